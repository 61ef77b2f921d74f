// Deleting what a video, or one revision of it, owns: functions, playlists, work files, route.
import { isVideoFunction, keys, revisionFunctionPrefix, videoFunctionPrefix } from '../core/naming';
import { CONTROL_PLANE_RETRY, retryTransient, type RetryOptions } from '../core/retry';
import type { DeletedRoute } from '../core/model';
import type { CodeStore, ObjectStore } from '../ports';
import { readRouteState } from './routes';

/** What deleting needs: the stores and the prefix every segment function name starts with. */
export interface OwnedStores {
  objects: ObjectStore;
  code: CodeStore;
  functionPrefix: string;
}

export interface Removed {
  functions: number;
  objects: number;
}

/**
 * The stores with each listing and deletion retried on throttling and network faults, at the
 * control plane's pace (CONTROL_PLANE_RETRY): what the steps that delete (CleanUp, RegisterRoute) use.
 */
export function retriedStores(ports: OwnedStores, retry: RetryOptions = {}): OwnedStores {
  const retried = <T>(call: () => Promise<T>) => retryTransient(call, { ...CONTROL_PLANE_RETRY, ...retry });
  const { objects, code } = ports;
  // The stores' other methods stay theirs (through the prototype: the stores are class instances).
  const objectsRetried: ObjectStore = Object.assign(Object.create(objects) as ObjectStore, {
    list: (bucket: Parameters<ObjectStore['list']>[0], prefix: string) => retried(() => objects.list(bucket, prefix)),
    delete: (bucket: Parameters<ObjectStore['delete']>[0], key: string) => retried(() => objects.delete(bucket, key)),
  });
  const codeRetried: CodeStore = Object.assign(Object.create(code) as CodeStore, {
    list: (prefix: string) => retried(() => code.list(prefix)),
    delete: (name: string) => retried(() => code.delete(name)),
  });
  return { objects: objectsRetried, code: codeRetried, functionPrefix: ports.functionPrefix };
}

/** What a deletion that goes on past failures could not remove: `function <name>`, `object <bucket>/<key>`, with the first reason. */
export interface LeftBehind {
  functions: string[];
  objects: string[];
  firstError?: string;
}

/** Runs one deletion; with `left`, a failure is noted there instead of thrown, and the deletion goes on. */
async function attempt<T>(
  left: LeftBehind | undefined,
  kind: 'functions' | 'objects',
  what: string,
  call: () => Promise<T>,
): Promise<T | undefined> {
  if (!left) return call();
  try {
    return await call();
  } catch (error) {
    left[kind].push(what);
    left.firstError ??= `${(error as Error).name}: ${(error as Error).message}`;
    return undefined;
  }
}

/**
 * Deletes every function and object of one revision of a video; returns what it removed. The
 * functions are the ones named by the revision's package claims (written before each function is
 * created) and by `knownFunctions` (a route's packages, once the claims are gone), so the steps
 * never list the account's functions: in AWS that would need lambda:ListFunctions on "*", which
 * also reveals every other function's configuration.
 */
export async function deleteRevision(
  ports: OwnedStores,
  videoId: string,
  revision: string,
  what: { functions: boolean; output: boolean; work: boolean },
  knownFunctions: readonly string[] = [],
  /** When given, what cannot be deleted is noted here and the rest is still deleted (CleanUp). */
  left?: LeftBehind,
): Promise<Removed> {
  let functions = 0;
  let objects = 0;
  if (what.functions) {
    const claimsPrefix = keys.packageClaimsPrefix(videoId, revision);
    const claimed = (await ports.objects.list('work', claimsPrefix)).map((o) => o.key.slice(claimsPrefix.length));
    const own = revisionFunctionPrefix(ports.functionPrefix, videoId, revision);
    for (const name of new Set([...knownFunctions, ...claimed])) {
      if (name.startsWith(own) && (await attempt(left, 'functions', name, () => ports.code.delete(name)))) functions++;
    }
  }
  const prefixes: ['work' | 'output', string][] = [];
  if (what.work) prefixes.push(['work', keys.workPrefix(videoId, revision)]);
  if (what.output) prefixes.push(['output', keys.outputPrefix(videoId, revision)]);
  for (const [bucket, prefix] of prefixes) {
    for (const object of await ports.objects.list(bucket, prefix)) {
      const deleted = await attempt(left, 'objects', `${bucket}/${object.key}`, async () => {
        await ports.objects.delete(bucket, object.key);
        return true;
      });
      if (deleted) objects++;
    }
  }
  return { functions, objects };
}

/**
 * Everything a video owns, in every revision: its route, functions, playlists and work files.
 * With `markAt` (a deployed stage, where a conversion may be under way) the record is replaced by
 * a deletion's mark first, so a run that registers later fails VideoDeleted instead of bringing
 * back a route that names deleted functions; locally `delete` holds the video's lock instead.
 */
export async function deleteVideo(ports: OwnedStores, videoId: string, markAt?: number): Promise<Removed> {
  let functions = 0;
  let objects = 0;
  const routeKey = keys.route(videoId);
  const prefixes = [
    ['output', `v/${videoId}/`],
    ['work', `${videoId}/`],
  ] as const;
  const listFunctions = () => ports.code.list(videoFunctionPrefix(ports.functionPrefix, videoId));
  const seen = await readRouteState(ports.objects, videoId);
  const hadRoute = seen.etag !== undefined && seen.deleted === undefined;
  // The record goes first (or becomes the mark), so nothing is served from what is about to disappear.
  if (markAt !== undefined) {
    const anything =
      hadRoute ||
      (await listFunctions()).length > 0 ||
      (await Promise.all(prefixes.map(([b, p]) => ports.objects.list(b, p)))).some((l) => l.length > 0);
    if (anything) {
      const mark: DeletedRoute = { videoId, deletedAt: new Date(markAt).toISOString() };
      await ports.objects.put('output', routeKey, JSON.stringify(mark), 'application/json');
    }
  } else if (seen.etag !== undefined) {
    await ports.objects.delete('output', routeKey);
  }
  if (hadRoute) objects++;
  // Listed after the mark: what a run under way creates later, its own CleanUp removes (it fails VideoDeleted).
  for (const fn of await listFunctions()) {
    if (isVideoFunction(ports.functionPrefix, videoId, fn.name) && (await ports.code.delete(fn.name))) functions++;
  }
  for (const [bucket, prefix] of prefixes) {
    for (const object of await ports.objects.list(bucket, prefix)) {
      await ports.objects.delete(bucket, object.key);
      objects++;
    }
  }
  return { functions, objects };
}

/**
 * Every video, every function under the prefix (orphans too) and every object in the work and
 * output buckets: what `delete --all` removes before `serverless remove`. Uploads in the input
 * bucket are the user's and stay.
 */
export async function deleteEverything(ports: OwnedStores): Promise<Removed> {
  let functions = 0;
  let objects = 0;
  // Routes first, so nothing is served from what is about to disappear.
  for (const bucket of ['output', 'work'] as const) {
    const all = await ports.objects.list(bucket, '');
    const ordered = [...all.filter((o) => o.key.startsWith(keys.routesPrefix)), ...all.filter((o) => !o.key.startsWith(keys.routesPrefix))];
    for (const object of ordered) {
      await ports.objects.delete(bucket, object.key);
      objects++;
    }
    if (bucket === 'output') {
      for (const fn of await ports.code.list(ports.functionPrefix)) if (await ports.code.delete(fn.name)) functions++;
    }
  }
  return { functions, objects };
}
