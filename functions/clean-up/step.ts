// CleanUp: on any failure, delete every function and object this execution created, then hand
// the original error on (normalised to one line) for the Fail state.
import { oneLineCause } from '../../src/core/errors';
import { isRevision, isVideoId, videoIdFor } from '../../src/core/naming';
import type { CodeStore, ObjectStore } from '../../src/ports';
import { deleteRevision, readRoute } from '../../src/registry';

export interface CleanUpPorts {
  objects: ObjectStore;
  code: CodeStore;
  functionPrefix: string;
}

export interface CleanUpResult {
  Error: string;
  Cause: string;
  deleted: { functions: number; objects: number };
}

function field(value: unknown, key: string): unknown {
  return value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

/** Takes the whole execution state at the failure: whatever of it exists tells what to delete. */
export async function cleanUp(event: unknown, ports: CleanUpPorts): Promise<CleanUpResult> {
  const error = field(event, 'error');
  const name = field(error, 'Error');
  const result: CleanUpResult = {
    Error: typeof name === 'string' && name ? name : 'UnknownError',
    Cause: oneLineCause(field(error, 'Cause') ?? 'no cause recorded'),
    deleted: { functions: 0, objects: 0 },
  };
  const jobVideoId = field(field(event, 'job'), 'videoId');
  const sourceKey = field(field(event, 'source'), 'key');
  const videoId = typeof jobVideoId === 'string' ? jobVideoId : typeof sourceKey === 'string' ? videoIdFor(sourceKey) : undefined;
  const revision = field(event, 'revision');
  if (!videoId || !isVideoId(videoId) || typeof revision !== 'string' || !isRevision(revision)) return result;

  // A repeat of a conversion that already succeeded must not delete what is being served.
  const route = await readRoute(ports.objects, videoId);
  const serving = route?.revision === revision;
  result.deleted = await deleteRevision(ports, videoId, revision, { functions: !serving, output: !serving, work: true });
  return result;
}
