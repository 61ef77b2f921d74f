// What every step module exports beside its step: its entry in the step table (src/composition/
// steps.ts collects them) — what invokes it, the ports it uses, the variables its function gets,
// how its event is parsed, and what its result tells a person following the run.
import type { Progress } from '../core/history';
import type { SegmentationResult } from '../core/model';
import { describeFfmpegRun } from '../core/media-limits';
import type { BatchLimits } from '../core/packing';
import type { RetryOptions } from '../core/retry';
import type { PortName, Ports } from '../ports';
// Types only: a step is given its settings, it never reads them (the one arrow back into composition the lint rule allows).
import type { SettingName, Settings } from '../composition/settings';

/**
 * The settings as steps get them; the local engine may add test timings (instant retries, small
 * batches) and release each package's segments once it is stored (its work bucket has no lifecycle rule).
 */
export type StepSettings = Settings & { retry?: RetryOptions; batchLimits?: BatchLimits; releaseStoredSegments?: boolean };

export interface StepEntry<I, O, P extends PortName> {
  /** What invokes the function: a Task of ConvertVideo, the playback API, or the input bucket. */
  invokedBy: 'state machine' | 'HTTP API' | 'function URL' | 'input bucket';
  /** The ports the step uses: the only ones built for it, and those whose variables its function gets. */
  ports: readonly P[];
  /** Variables the stack sets for the function besides its ports' (deploy/stack.js). */
  variables: readonly SettingName[];
  /** What it does through its ports, from which deploy/stack.js makes its role's grants (and nothing else). */
  access: Access;
  /** The event as the function receives it → the step's typed input (InvalidRequest when it cannot be). */
  parse(event: unknown): I;
  run(input: I, ports: Pick<Ports, P>, settings: StepSettings): Promise<O>;
  /** What the step's result tells a person following the run (counts for progress and stats). */
  progress?(result: O): Progress;
}

/** A part of the buckets: a whole bucket, or one prefix of it (`work/quota`: the code storage ledger). */
export type ObjectArea = 'input' | 'work' | 'work/quota' | 'output' | 'output/routes' | 'output/v';

/**
 * A step's use of its ports, as its function's role allows it. `list` (on a whole bucket) lets a
 * missing object answer 404 rather than 403; a public function is never given it (it would hand
 * out every key).
 */
export interface Access {
  objects?: Partial<Record<ObjectArea, readonly ('get' | 'put' | 'delete' | 'abort upload' | 'list')[]>>;
  /** The segment functions (by the stage's function prefix); `create` passes them their role. */
  code?: readonly ('create' | 'read' | 'update' | 'delete')[];
  /** The account's Lambda settings: its code storage quota. */
  accountSettings?: true;
  /** The state machine's executions. */
  executions?: readonly ('start' | 'describe')[];
}

/** What sizes a transcode's chunks, as the stack sets it for the steps that plan them. */
export const ENCODE_VARIABLES = [
  'LAMBDA_HLS_ENCODE_TIMEOUT_SECONDS',
  'LAMBDA_HLS_ENCODE_MEMORY_MB',
  'LAMBDA_HLS_ENCODE_CONCURRENCY',
] as const;

/** Segments and planned packages, ffmpeg's time and what the segments do not honour (SegmentMedia, JoinChunks). */
export function segmentationProgress(result: SegmentationResult): Progress {
  return {
    segments: result.segmentCount,
    plannedPackages: result.packageCount,
    ...(result.ffmpeg && { ffmpeg: result.ffmpeg, notes: [describeFfmpegRun(result.ffmpeg)] }),
    ...(result.chunks && { chunks: result.chunks }),
    ...(result.warnings?.length && { warnings: result.warnings }),
  };
}

export function entry<I, O, const P extends PortName>(step: StepEntry<I, O, P>): StepEntry<I, O, P> {
  return step;
}
