// The step table: each function key (as in serverless.yml and the ASL's Fn::GetAtt) → how its
// event is parsed, the step it runs and the ports it uses. The Lambda handlers (lambda.ts), the
// local engine (bindSteps) and the deployed environment (deployment.ts) all read it, and a test
// holds it equal to the ASL's Tasks and serverless.yml's functions.
import { validateInputStep } from '../steps/validate-input';
import { segmentMediaStep } from '../steps/segment-media';
import { encodeChunkStep } from '../steps/encode-chunk';
import { joinChunksStep } from '../steps/join-chunks';
import { packageBatchStep } from '../steps/package-batch';
import { computeOffsetsStep } from '../steps/compute-offsets';
import { makeCaptionsStep } from '../steps/make-captions';
import { writePlaylistStep } from '../steps/write-playlist';
import { makePreviewsStep } from '../steps/make-previews';
import { registerRouteStep } from '../steps/register-route';
import { cleanUpStep } from '../steps/clean-up';
import { serveSegmentStep } from '../steps/serve-segment';
import { deliverSegmentStep } from '../steps/deliver-segment';
import { startConversionStep } from '../steps/start-conversion';
import type { ProgressOf } from '../core/history';
import type { StepEntry, StepSettings } from '../steps/entry';

export type { StepEntry, StepSettings } from '../steps/entry';
import type { PortName, Ports } from '../ports';

export const STEPS = {
  validateInput: validateInputStep,
  segmentMedia: segmentMediaStep,
  encodeChunk: encodeChunkStep,
  joinChunks: joinChunksStep,
  packageBatch: packageBatchStep,
  computeOffsets: computeOffsetsStep,
  makeCaptions: makeCaptionsStep,
  writePlaylist: writePlaylistStep,
  makePreviews: makePreviewsStep,
  registerRoute: registerRouteStep,
  cleanUp: cleanUpStep,
  serveSegment: serveSegmentStep,
  deliverSegment: deliverSegmentStep,
  startConversion: startConversionStep,
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
