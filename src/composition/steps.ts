// The step table: each function key (as in serverless.yml and the ASL's Fn::GetAtt) → how its
// event is parsed, the step it runs and the ports it uses. The Lambda handlers (lambda.ts), the
// local engine (bindSteps) and the deployed environment (deployment.ts) all read it, and a test
// holds it equal to the ASL's Tasks and serverless.yml's functions.
import { cleanUp, parseCleanUpInput } from '../../functions/clean-up/step';
import { computeOffsets, parseComputeOffsetsInput } from '../../functions/compute-offsets/step';
import { encodeChunk, parseEncodeChunkInput } from '../../functions/encode-chunk/step';
import { joinChunks, parseJoinChunksInput } from '../../functions/join-chunks/step';
import { packageBatch, parsePackageBatchInput } from '../../functions/package-batch/step';
import { parseRegisterRouteInput, registerRoute } from '../../functions/register-route/step';
import { parseSegmentMediaInput, segmentMedia } from '../../functions/segment-media/step';
import { deliverPlayback } from '../../functions/deliver-segment/step';
import { parseHttpApiEvent, servePlayback } from '../../functions/serve-segment/step';
import { parseS3Event, startConversion } from '../../functions/start-conversion/step';
import { parseValidateInput, validateInput } from '../../functions/validate-input/step';
import { parseWritePlaylistInput, writePlaylist } from '../../functions/write-playlist/step';
import type { Progress, ProgressOf } from '../core/history';
import { isChunkedSegmentation, type SegmentationResult } from '../core/model';
import { describeFfmpegRun, describePlan, type BatchLimits } from '../core/plan';
import type { RetryOptions } from '../core/retry';
import type { PortName, Ports } from '../ports';
import type { SettingName, Settings } from './settings';

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
  /** The event as the function receives it → the step's typed input (InvalidRequest when it cannot be). */
  parse(event: unknown): I;
  run(input: I, ports: Pick<Ports, P>, settings: StepSettings): Promise<O>;
  /** What the step's result tells a person following the run (counts for progress and stats). */
  progress?(result: O): Progress;
}

/** What sizes a transcode's chunks, as the stack sets it for the steps that plan them. */
const ENCODE_VARIABLES = ['LAMBDA_HLS_ENCODE_TIMEOUT_SECONDS', 'LAMBDA_HLS_ENCODE_MEMORY_MB', 'LAMBDA_HLS_ENCODE_CONCURRENCY'] as const;

/** Segments and planned packages, ffmpeg's time and what the segments do not honour (SegmentMedia, JoinChunks). */
function segmentationProgress(result: SegmentationResult): Progress {
  return {
    segments: result.segmentCount,
    plannedPackages: result.packageCount,
    ...(result.ffmpeg && { ffmpeg: result.ffmpeg, notes: [describeFfmpegRun(result.ffmpeg)] }),
    ...(result.chunks && { chunks: result.chunks }),
    ...(result.warnings?.length && { warnings: result.warnings }),
  };
}

function entry<I, O, const P extends PortName>(step: StepEntry<I, O, P>): StepEntry<I, O, P> {
  return step;
}

export const STEPS = {
  validateInput: entry({
    invokedBy: 'state machine',
    ports: ['objects', 'media'],
    variables: ['LAMBDA_HLS_FUNCTION_PREFIX', 'LAMBDA_HLS_VIDEO_ID_SECRET', ...ENCODE_VARIABLES],
    parse: parseValidateInput,
    run: validateInput,
    progress: ({ plan }) => (plan ? { notes: [describePlan(plan)], ...(plan.warnings?.length && { warnings: plan.warnings }) } : {}),
  }),
  segmentMedia: entry({
    invokedBy: 'state machine',
    ports: ['objects', 'media', 'code'],
    variables: [...ENCODE_VARIABLES, 'LAMBDA_HLS_PACKAGE_TIMEOUT_SECONDS', 'LAMBDA_HLS_CODE_HEADROOM_PERCENT'],
    parse: parseSegmentMediaInput,
    run: segmentMedia,
    // A transcode's SegmentMedia plans chunks (and encodes the audio); JoinChunks then segments as a copy's does.
    progress: (result) =>
      isChunkedSegmentation(result)
        ? {
            plannedChunks: result.chunks.length,
            notes: [result.chunking, ...(result.ffmpeg ? [`audio: ${describeFfmpegRun(result.ffmpeg)}`] : [])],
          }
        : segmentationProgress(result),
  }),
  encodeChunk: entry({
    invokedBy: 'state machine',
    ports: ['objects', 'media'],
    variables: [],
    parse: parseEncodeChunkInput,
    run: encodeChunk,
    progress: (result) => ({ chunkSeconds: result.seconds }),
  }),
  joinChunks: entry({
    invokedBy: 'state machine',
    ports: ['objects', 'code'],
    variables: ['LAMBDA_HLS_PACKAGE_TIMEOUT_SECONDS', 'LAMBDA_HLS_CODE_HEADROOM_PERCENT'],
    parse: parseJoinChunksInput,
    run: joinChunks,
    progress: segmentationProgress,
  }),
  packageBatch: entry({
    invokedBy: 'state machine',
    ports: ['objects', 'code'],
    variables: ['LAMBDA_HLS_FUNCTION_PREFIX', 'SEGMENT_ROLE_ARN', 'LAMBDA_HLS_SEGMENT_RUNTIME'],
    parse: parsePackageBatchInput,
    run: packageBatch,
    progress: (result) => ({ packages: result.packages, ...(result.retries > 0 && { callRetries: result.retries }) }),
  }),
  computeOffsets: entry({
    invokedBy: 'state machine',
    ports: ['objects', 'code'],
    variables: [],
    parse: parseComputeOffsetsInput,
    run: computeOffsets,
  }),
  writePlaylist: entry({
    invokedBy: 'state machine',
    ports: ['objects'],
    variables: [],
    parse: parseWritePlaylistInput,
    run: (input, ports) => writePlaylist(input, ports),
  }),
  registerRoute: entry({
    invokedBy: 'state machine',
    ports: ['objects', 'code', 'clock'],
    variables: ['LAMBDA_HLS_FUNCTION_PREFIX'],
    parse: parseRegisterRouteInput,
    run: registerRoute,
  }),
  cleanUp: entry({
    invokedBy: 'state machine',
    ports: ['objects', 'code'],
    variables: ['LAMBDA_HLS_FUNCTION_PREFIX', 'LAMBDA_HLS_VIDEO_ID_SECRET'],
    parse: parseCleanUpInput,
    run: cleanUp,
  }),
  serveSegment: entry({
    invokedBy: 'HTTP API',
    ports: ['objects', 'code', 'clock'],
    // Its role reads the output bucket but may not list it (a public function must not list every video).
    variables: ['DELIVERY_URL', 'UNLISTED_BUCKETS'],
    parse: parseHttpApiEvent,
    run: (request, ports, settings) => servePlayback(request, ports, settings.deliveryUrl),
  }),
  deliverSegment: entry({
    invokedBy: 'function URL',
    ports: ['objects', 'code', 'clock'],
    variables: ['UNLISTED_BUCKETS'],
    parse: parseHttpApiEvent,
    run: (request, ports) => deliverPlayback(request, ports),
  }),
  startConversion: entry({
    invokedBy: 'input bucket',
    ports: ['executions'],
    variables: ['LAMBDA_HLS_FUNCTION_PREFIX', 'LAMBDA_HLS_VIDEO_ID_SECRET'],
    parse: parseS3Event,
    // What became of each upload goes into the invocation's log line (src/composition/invocation-log.ts).
    run: (objects, ports, settings) => startConversion(objects, ports, settings),
  }),
};

export type FunctionKey = keyof typeof STEPS;

export const FUNCTION_KEYS = Object.keys(STEPS) as FunctionKey[];

/** A function's step on given ports: parse the event, then run. */
export async function runStep(key: FunctionKey, event: unknown, ports: Ports, settings: StepSettings): Promise<unknown> {
  const step = STEPS[key] as StepEntry<unknown, unknown, PortName>;
  return step.run(step.parse(event), ports, settings);
}

/** Every function key → its step on these ports: what the local engine binds the ASL's Tasks to. */
export function bindSteps(ports: Ports, settings: StepSettings): Record<FunctionKey, (event: unknown) => Promise<unknown>> {
  return Object.fromEntries(FUNCTION_KEYS.map((key) => [key, (event: unknown) => runStep(key, event, ports, settings)])) as Record<
    FunctionKey,
    (event: unknown) => Promise<unknown>
  >;
}

/** A state's function key and where its result is in the state's output, as the ASL says. */
export interface TaskPlace {
  state: string;
  functionKey: string;
  resultIn: string | undefined;
}

/** `$.a.b` of a value, or undefined. */
function valueAt(value: unknown, path: string): unknown {
  return path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)
    .reduce<unknown>((at, key) => (at && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined), value);
}

/** Progress of any state from its output: the ASL places the step's result, the step table reads it. */
export function progressReader(tasks: readonly TaskPlace[]): ProgressOf {
  const byState = new Map(tasks.map((task) => [task.state, task]));
  return (state, output) => {
    const task = byState.get(state);
    const step = task && (STEPS as Record<string, StepEntry<unknown, unknown, PortName>>)[task.functionKey];
    if (!task || !step?.progress) return {};
    const result = task.resultIn ? valueAt(output, task.resultIn) : output;
    if (!result || typeof result !== 'object') return {};
    try {
      return step.progress(result);
    } catch {
      return {}; // an output of another shape (a failure caught into it): nothing to count
    }
  };
}
