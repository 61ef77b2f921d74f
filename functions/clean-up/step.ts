// CleanUp: on any failure, delete every function and object this execution created, then hand
// the original error on (normalised to one line) for the Fail state.
import { oneLineCause } from '../../src/core/errors';
import { isRevision, isVideoId, videoIdFor } from '../../src/core/naming';
import type { Ports } from '../../src/ports';
import { deleteRevision } from '../../src/registry/deletion';
import { readRoute } from '../../src/registry/routes';

export type CleanUpPorts = Pick<Ports, 'objects' | 'code'>;

export interface CleanUpSettings {
  functionPrefix: string;
}

/** The execution's state at the failure, as far as it got: whatever of it exists tells what to delete. */
export interface CleanUpInput {
  error: { Error: string; Cause: string };
  /** Known once ValidateInput ran (or from the source key); absent when the input was unusable. */
  videoId?: string;
  revision?: string;
}

export interface CleanUpResult {
  Error: string;
  Cause: string;
  deleted: { functions: number; objects: number };
}

function field(value: unknown, key: string): unknown {
  return value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

/** Never refuses: CleanUp must run whatever state the failure left, so a missing field means "nothing of it to delete". */
export function parseCleanUpInput(event: unknown): CleanUpInput {
  const error = field(event, 'error');
  const name = field(error, 'Error');
  const jobVideoId = field(field(event, 'job'), 'videoId');
  // The key as the trigger and the CLI name it, or as a person typed it in the console.
  const sourceKey = field(field(event, 'source'), 'key') ?? field(event, 'key');
  const videoId = typeof jobVideoId === 'string' ? jobVideoId : typeof sourceKey === 'string' ? videoIdFor(sourceKey) : undefined;
  const revision = field(event, 'revision');
  return {
    error: {
      Error: typeof name === 'string' && name ? name : 'UnknownError',
      Cause: oneLineCause(field(error, 'Cause') ?? 'no cause recorded'),
    },
    ...(videoId !== undefined && isVideoId(videoId) && { videoId }),
    ...(typeof revision === 'string' && isRevision(revision) && { revision }),
  };
}

export async function cleanUp(input: CleanUpInput, ports: CleanUpPorts, settings: CleanUpSettings): Promise<CleanUpResult> {
  const result: CleanUpResult = { ...input.error, deleted: { functions: 0, objects: 0 } };
  const { videoId, revision } = input;
  if (!videoId || !revision) return result;

  // A repeat of a conversion that already succeeded must not delete what is being served.
  const route = await readRoute(ports.objects, videoId);
  const serving = route?.revision === revision;
  const owned = { objects: ports.objects, code: ports.code, functionPrefix: settings.functionPrefix };
  result.deleted = await deleteRevision(owned, videoId, revision, { functions: !serving, output: !serving, work: true });
  return result;
}
