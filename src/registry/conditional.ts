// Read, decide, write only if nothing changed meanwhile (S3's If-Match / If-None-Match: *), and
// read again when something did: how the records several runs share (a video's route, the code
// storage ledger) are changed without one writer undoing another's.
import { TransientNetworkError } from '../core/errors';
import type { Bucket, ObjectStore, WriteCondition } from '../ports';

/** Tries before giving up, by default: each lost race means another writer has just written. */
const TRIES = 5;

/** The object's condition as read: its ETag, or absent. */
export function conditionOf(etag: string | undefined): WriteCondition {
  return etag === undefined ? { absent: true } : { etag };
}

/**
 * `read` the object and `decide`: a body to write (only if the object is still as read) and the
 * result, or no body (nothing to write). A lost race reads and decides again; `decide` may throw
 * to refuse. After `tries` lost races, TransientNetworkError (the state machine retries the Task).
 */
export async function writeConditionally<S, R>(
  objects: ObjectStore,
  bucket: Bucket,
  key: string,
  read: () => Promise<{ state: S; condition: WriteCondition }>,
  decide: (state: S) => Promise<{ body?: string; result: R }>,
  tries = TRIES,
): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    const { state, condition } = await read();
    const { body, result } = await decide(state);
    if (body === undefined || (await objects.putIf(bucket, key, body, condition, 'application/json'))) return result;
    if (attempt === tries) throw new TransientNetworkError(`${bucket}/${key} changed under each of ${tries} writes; try again`);
  }
}
