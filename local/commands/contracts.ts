// The JSON the commands print with --json: the shapes scripts rely on (README: CLI). Changing one
// is changing a contract.
import type { ExecutionStats, FailureSummary } from '../../src/core/history';
import type { MediaKind } from '../../src/core/model';

/** `convert --json` */
export interface ConvertJson {
  status: 'SUCCEEDED' | 'FAILED';
  videoId: string;
  executionName: string;
  /** The playlist's path on disk (locally) or its URL under the stack's PlaybackBaseUrl; null when it failed. */
  playlist: string | null;
  segments: number;
  stats: ExecutionStats;
  error?: FailureSummary;
}

/** One state in `history --json`. */
export interface HistoryStateJson {
  state: string;
  status: 'SUCCEEDED' | 'FAILED' | 'RUNNING';
  startedAt: string;
  seconds: number | null;
  retries: number;
  callRetries?: number;
  iterations?: { started: number; succeeded: number; failed: number };
  packages?: number;
  error?: string;
  cause?: string;
}

/** `history --json` */
export interface HistoryJson {
  executionName: string;
  videoId: string;
  status: string;
  startedAt: string;
  stoppedAt: string | null;
  states: HistoryStateJson[];
  stats: ExecutionStats;
  error?: FailureSummary;
}

/** One video in `list --json` (also what the player page's /api/videos lists, with its own playlist path). */
export interface VideoJson {
  videoId: string;
  name: string;
  kind: MediaKind;
  durationSeconds: number;
  segments: number;
  packages: number;
  revision: string;
  registeredAt: string;
  playlist: string;
}

/** `gc --json` */
export interface GcJson {
  dryRun: boolean;
  functions: string[];
  /** `<bucket>/<key>` */
  objects: string[];
}
