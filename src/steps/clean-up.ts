// CleanUp: on any failure, delete every function and object this execution created, then hand
// the original error on (normalised to one line) for the Fail state.
import { oneLineCause } from '../core/errors';
import { releaseCodeStorage } from '../registry/quota';
import { hasPublished } from '../core/grace';
import { isRevision, isVideoId, videoIdFor } from '../core/naming';
import type { Ports } from '../ports';
import type { RetryOptions } from '../core/retry';
import { deleteRevision, retriedStores, type LeftBehind } from '../registry/deletion';
import { readRouteTolerant } from '../registry/routes';
import { entry } from './entry';

export type CleanUpPorts = Pick<Ports, 'objects' | 'code'>;

export interface CleanUpSettings {
  functionPrefix: string;
  /** Mixed into video ids (LAMBDA_HLS_VIDEO_ID_SECRET), for a run that failed before ValidateInput named its video. */
  videoIdSecret?: string;
  /** Per-call retries of throttling and network faults (tests make them instant). */
  retry?: RetryOptions;
}

/** The execution's state at the failure, as far as it got: whatever of it exists tells what to delete. */
export interface CleanUpInput {
  error: { Error: string; Cause: string };
  /** Known once ValidateInput ran; absent when the input was unusable. */
  videoId?: string;
  /** The key as given, when ValidateInput did not get as far as the video id: CleanUp derives it. */
  sourceKey?: string;
  revision?: string;
}

export interface CleanUpResult {
  Error: string;
  /** The original cause; when something could not be deleted, followed by what was left and how to remove it. */
  Cause: string;
  deleted: { functions: number; objects: number };
  /** What could not be deleted (up to 20 names of each; the counts are in the Cause). */
  left?: { functions: string[]; objects: string[] };
}

function field(value: unknown, key: string): unknown {
  return value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

/** Never refuses: CleanUp must run whatever state the failure left, so a missing field means "nothing of it to delete". */
export function parseCleanUpInput(given: unknown): CleanUpInput {
  // The state machine's Parameters: the failed run's state and the execution's name ({input, execution}).
  const wrapped = typeof field(given, 'execution') === 'string' && field(given, 'input') !== undefined;
  const event = wrapped ? field(given, 'input') : given;
  const error = field(event, 'error');
  const name = field(error, 'Error');
  const jobVideoId = field(field(event, 'job'), 'videoId');
  // The key as the trigger and the CLI name it, or as a person typed it in the console.
  const sourceKey = field(field(event, 'source'), 'key') ?? field(event, 'key');
  const videoId = typeof jobVideoId === 'string' ? jobVideoId : undefined;
  const revision = field(event, 'revision');
  return {
    error: {
      Error: typeof name === 'string' && name ? name : 'UnknownError',
      Cause: oneLineCause(field(error, 'Cause') ?? 'no cause recorded'),
    },
    ...(videoId !== undefined && isVideoId(videoId) && { videoId }),
    ...(videoId === undefined && typeof sourceKey === 'string' && sourceKey && { sourceKey }),
    ...(typeof revision === 'string' && isRevision(revision) && { revision }),
  };
}

export async function cleanUp(input: CleanUpInput, ports: CleanUpPorts, settings: CleanUpSettings): Promise<CleanUpResult> {
  const result: CleanUpResult = { ...input.error, deleted: { functions: 0, objects: 0 } };
  const { revision } = input;
  const videoId =
    input.videoId ??
    (input.sourceKey !== undefined
      ? videoIdFor(input.sourceKey, { secret: settings.videoIdSecret, functionPrefix: settings.functionPrefix })
      : undefined);
  if (!videoId || !revision) return result;

  // A repeat of a conversion that already succeeded must not delete what is being served; nor
  // may a failure delete what an unreadable record might name (gc keeps it too).
  const { route, unreadable } = await readRouteTolerant(ports.objects, videoId);
  // A retired revision within its grace is still served too (a re-run of it that failed).
  const serving = hasPublished(route, revision) || unreadable !== undefined;
  // Each call retried on throttling and network faults; what still cannot be deleted is noted and
  // the rest deleted, so the run ends with the original error and says what was left behind.
  const owned = retriedStores({ objects: ports.objects, code: ports.code, functionPrefix: settings.functionPrefix }, settings.retry);
  const left: LeftBehind = { functions: [], objects: [] };
  try {
    result.deleted = await deleteRevision(owned, videoId, revision, { functions: !serving, output: !serving, work: true }, [], left);
  } catch (error) {
    // Not even the listing worked: nothing is known to be deleted.
    left.firstError ??= `${(error as Error).name}: ${(error as Error).message}`;
    left.objects.push(`everything under ${videoId}/${revision}`);
  }
  // The run's code storage is given back (a reservation not given back lapses after a day).
  const released = await releaseCodeStorage(ports.objects, `${videoId}/${revision}`).then(
    () => true,
    () => false,
  );
  if (!released) result.Cause = `${result.Cause} — and its code storage reservation could not be given back (it lapses in a day)`;
  if (left.functions.length > 0 || left.objects.length > 0) {
    const what = [plural(left.functions.length, 'function'), plural(left.objects.length, 'object')]
      .filter((w) => !w.startsWith('0 '))
      .join(' and ');
    result.Cause = `${result.Cause} — and CleanUp could not remove ${what} this run made (${oneLineCause(left.firstError)}): lambda-hls gc removes them`;
    result.left = { functions: left.functions.slice(0, 20), objects: left.objects.slice(0, 20) };
  }
  return result;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** cleanUp's entry in the step table. */
export const cleanUpStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'code'],
  variables: ['LAMBDA_HLS_FUNCTION_PREFIX', 'LAMBDA_HLS_VIDEO_ID_SECRET'],
  // Delete what a failed execution made (never the revision being served, never a route record).
  access: {
    objects: { work: ['delete', 'list'], 'work/quota': ['get', 'put'], 'output/routes': ['get'], 'output/v': ['delete'], output: ['list'] },
    code: ['delete'],
  },
  parse: parseCleanUpInput,
  run: cleanUp,
});
