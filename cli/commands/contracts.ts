// The JSON the commands print with --json: the shapes scripts rely on (README: CLI). Changing one
// is changing a contract.
import type { ExecutionStats, FailureSummary, StateSummary } from '../../src/core/history';
import type { MediaKind, RenditionVariant } from '../../src/core/model';

/** `convert --json` */
export interface ConvertJson {
  /** The file (or s3:// URL) as it was given: with several, one object per line, in the order given. */
  file: string;
  /** ABORTED: stopped by Ctrl-C, SIGTERM or SIGHUP (locally). */
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  videoId: string;
  executionName: string;
  /** The playlist's path on disk (locally) or its URL under the stack's PlaybackBaseUrl; null when it failed. */
  playlist: string | null;
  /** With --stage, once it succeeded: the video's hosted page (the link to share) and its playlist on the delivery route. */
  watch?: string;
  proxiedPlaylist?: string;
  segments: number;
  /**
   * A ladder's rungs (additive): each one's size, measured peak and average bit rate (bits per
   * second), CODECS, and its media playlist (a path on disk locally, a URL with --stage), from the
   * top down. `playlist` is then their multivariant playlist. Absent with one rendition.
   */
  renditions?: RenditionJson[];
  /**
   * The poster image and the storyboard's WebVTT track (additive; a path on disk locally, a URL with
   * --stage). Absent for a sound file, or when ffmpeg could not make them (a warning says why).
   */
  poster?: string;
  storyboard?: string;
  /** Its subtitle renditions (additive): each track's language, name and subtitle playlist. Absent when it has none. */
  captions?: CaptionJson[];
  stats: ExecutionStats;
  /** How the source was encoded and why ("copying H.264 High 4.0", "transcoding to H.264: rotated 90°: turned upright"); absent when ValidateInput did not finish. */
  encoding?: string;
  /** What was not honoured or kept (segments longer than asked, dropped audio tracks); empty when nothing. */
  warnings: string[];
  error?: FailureSummary;
}

/** One subtitle rendition in `convert --json` (and `list --json`): its language tag (`und` when unknown), its name, its playlist (a path, or a URL with --stage). */
export interface CaptionJson {
  language: string;
  name: string;
  playlist: string;
}

/** One rung of a ladder in `convert --json` (and `list --json`): its variant, and its media playlist (a path, or a URL with --stage). */
export type RenditionJson = RenditionVariant & { playlist: string };

/** One state in `history --json`: its summary, with times as a person reads them. */
export type HistoryStateJson = Omit<StateSummary, 'type' | 'startedAt' | 'stoppedAt'> & {
  /** ISO 8601. */
  startedAt: string;
  /** How long it ran, or null while it runs. */
  seconds: number | null;
};

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
  /** A ladder's rungs (additive), as `convert --json` gives them. */
  renditions?: RenditionJson[];
  /** The poster and the storyboard track (additive), as `convert --json` gives them. */
  poster?: string;
  storyboard?: string;
  /** Its subtitle renditions (additive), as `convert --json` gives them. */
  captions?: CaptionJson[];
  /** With --stage: the hosted page and the playlist on the delivery route. */
  watch?: string;
  proxiedPlaylist?: string;
}

/** `gc --json` */
export interface GcJson {
  dryRun: boolean;
  functions: string[];
  /** `<bucket>/<key>` */
  objects: string[];
  /** What killed processes left outside the stores: partial copies and staged packages (`buckets/…`, `functions/…` under LAMBDA_HLS_HOME), locks (`executions/<id>.lock`), scratch folders (their path). */
  leftovers: string[];
  /** Route records that could not be read (`output/routes/<id>.json`): everything of those videos was kept. */
  unreadable: string[];
  /** Videos being converted while gc ran: kept, for the next gc. */
  busy: string[];
  /** Code storage reservations (`<videoId>/<revision>`) of runs no longer running — a killed one's — given back (an additive field). */
  reservations: string[];
}

/** One upload in `failed-uploads --json` (additive: a command of its own). */
export interface FailedUploadJson {
  /** The queue message's id. */
  id: string;
  /** When Lambda gave up on the event (ISO 8601). */
  failedAt: string;
  /** RetriesExhausted, or EventAgeExceeded. */
  condition: string;
  attempts: number;
  error: string;
  cause: string;
  /** The uploaded keys the event names (one, from S3). */
  keys: string[];
  /** With --retry: what became of it. Started ones leave the queue; failed ones stay for the next retry. */
  retry?:
    | { result: 'started'; executions: { key: string; result: 'started' | 'exists' | 'ignored'; executionName?: string }[] }
    | {
        result: 'failed';
        error: string;
        cause: string;
      };
}

/** `failed-uploads --json [--retry] --stage S` */
export interface FailedUploadsJson {
  failedUploads: FailedUploadJson[];
  /** Ids of messages in the queue that are not Lambda's failure records: left as they are. */
  unreadable: string[];
}
