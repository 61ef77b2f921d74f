// The route registry (one JSON object per video in the output bucket) and what a revision of a
// video owns: the operations several steps and the CLI share.
import { InputNotFound } from './core/errors';
import type { RouteRecord } from './core/model';
import { isVideoFunction, keys, revisionFunctionPrefix, videoFunctionPrefix } from './core/naming';
import { readJson, type CodeStore, type ObjectStore } from './ports';

export async function readRoute(objects: ObjectStore, videoId: string): Promise<RouteRecord | undefined> {
  try {
    return await readJson<RouteRecord>(objects, 'output', keys.route(videoId));
  } catch (error) {
    if (error instanceof InputNotFound) return undefined; // one read, not head + get: this runs per request
    throw error;
  }
}

/** What `list --json` and the player page show of a video. */
export function routeSummary(route: RouteRecord) {
  return {
    videoId: route.videoId,
    name: route.sourceKey,
    kind: route.kind,
    durationSeconds: route.durationSeconds,
    segments: route.segmentCount,
    packages: route.packages.length,
    revision: route.revision,
    registeredAt: route.registeredAt,
  };
}

/** Newest first. */
export function byNewest(a: RouteRecord, b: RouteRecord): number {
  return a.registeredAt < b.registeredAt ? 1 : -1;
}

export async function listRoutes(objects: ObjectStore): Promise<RouteRecord[]> {
  const found: RouteRecord[] = [];
  for (const object of await objects.list('output', keys.routesPrefix)) {
    const videoId = object.key.slice(keys.routesPrefix.length).replace(/\.json$/, '');
    const route = await readRoute(objects, videoId);
    if (route) found.push(route);
  }
  return found;
}

/**
 * Deletes every function and object of one revision of a video; returns what it removed. The
 * functions are the ones named by the revision's package claims (written before each function is
 * created) and by `knownFunctions` (a route's packages, once the claims are gone), so the steps
 * never list the account's functions: in AWS that would need lambda:ListFunctions on "*", which
 * also reveals every other function's configuration.
 */
export async function deleteRevision(
  ports: { objects: ObjectStore; code: CodeStore; functionPrefix: string },
  videoId: string,
  revision: string,
  what: { functions: boolean; output: boolean; work: boolean },
  knownFunctions: readonly string[] = [],
): Promise<{ functions: number; objects: number }> {
  let functions = 0;
  let objects = 0;
  if (what.functions) {
    const claimsPrefix = keys.packageClaimsPrefix(videoId, revision);
    const claimed = (await ports.objects.list('work', claimsPrefix)).map((o) => o.key.slice(claimsPrefix.length));
    const own = revisionFunctionPrefix(ports.functionPrefix, videoId, revision);
    for (const name of new Set([...knownFunctions, ...claimed])) {
      if (name.startsWith(own) && (await ports.code.delete(name))) functions++;
    }
  }
  const prefixes: ['work' | 'output', string][] = [];
  if (what.work) prefixes.push(['work', keys.workPrefix(videoId, revision)]);
  if (what.output) prefixes.push(['output', keys.outputPrefix(videoId, revision)]);
  for (const [bucket, prefix] of prefixes) {
    for (const object of await ports.objects.list(bucket, prefix)) {
      await ports.objects.delete(bucket, object.key);
      objects++;
    }
  }
  return { functions, objects };
}

/** Everything a video owns, in every revision: its route, functions, playlists and work files. */
export async function deleteVideo(
  ports: { objects: ObjectStore; code: CodeStore; functionPrefix: string },
  videoId: string,
): Promise<{ functions: number; objects: number }> {
  let functions = 0;
  let objects = 0;
  // The route goes first, so nothing is served from what is about to disappear.
  if (await ports.objects.head('output', keys.route(videoId))) {
    await ports.objects.delete('output', keys.route(videoId));
    objects++;
  }
  for (const fn of await ports.code.list(videoFunctionPrefix(ports.functionPrefix, videoId))) {
    if (isVideoFunction(ports.functionPrefix, videoId, fn.name) && (await ports.code.delete(fn.name))) functions++;
  }
  for (const [bucket, prefix] of [['output', `v/${videoId}/`], ['work', `${videoId}/`]] as const) {
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
export async function deleteEverything(ports: {
  objects: ObjectStore;
  code: CodeStore;
  functionPrefix: string;
}): Promise<{ functions: number; objects: number }> {
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

export interface GarbageReport {
  functions: string[];
  /** `<bucket>/<key>` */
  objects: string[];
}

/** `<prefix><videoId>-<revision>-<n>` → its video and revision, or undefined for other names. */
export function functionOwner(functionPrefix: string, name: string): { videoId: string; revision: string } | undefined {
  if (!name.startsWith(functionPrefix)) return undefined;
  const match = /^(.+)-([a-z0-9]{4,16})-(\d+)$/.exec(name.slice(functionPrefix.length));
  return match ? { videoId: match[1]!, revision: match[2]! } : undefined;
}

export interface RunningExecutions {
  /** `<videoId>/<revision>` of every execution still under way. */
  revisions: ReadonlySet<string>;
  /** Their source keys (the local input bucket holds a copy per run). */
  sources: ReadonlySet<string>;
}

/**
 * Finds (and unless `dryRun`, deletes) what no registered video and no running execution owns:
 * segment functions under the prefix, work files, playlists of revisions no route serves, and —
 * when `inputIsScratch` (the local backend, where the input bucket only holds copies for a run) —
 * input objects. Everything is listed before the running executions are asked for, so a run that
 * starts meanwhile cannot lose what it has just made.
 */
export async function collectGarbage(
  ports: { objects: ObjectStore; code: CodeStore; functionPrefix: string },
  runningNow: () => Promise<RunningExecutions>,
  options: { dryRun?: boolean; inputIsScratch?: boolean } = {},
): Promise<GarbageReport> {
  const functions = await ports.code.list(ports.functionPrefix);
  const work = await ports.objects.list('work', '');
  const output = await ports.objects.list('output', 'v/');
  const input = options.inputIsScratch ? await ports.objects.list('input', '') : [];
  const served = new Map((await listRoutes(ports.objects)).map((r) => [r.videoId, r.revision]));
  const running = await runningNow();
  const owned = (videoId: string, revision: string) =>
    served.get(videoId) === revision || running.revisions.has(`${videoId}/${revision}`);

  const report: GarbageReport = { functions: [], objects: [] };
  for (const fn of functions) {
    const owner = functionOwner(ports.functionPrefix, fn.name);
    if (!owner || !owned(owner.videoId, owner.revision)) report.functions.push(fn.name);
  }
  for (const object of work) {
    // Work files of a served revision were removed when it was registered: only running ones keep theirs.
    const [videoId = '', revision = ''] = object.key.split('/');
    if (!running.revisions.has(`${videoId}/${revision}`)) report.objects.push(`work/${object.key}`);
  }
  for (const object of output) {
    const [, videoId = '', revision = ''] = object.key.split('/');
    if (!owned(videoId, revision)) report.objects.push(`output/${object.key}`);
  }
  for (const object of input) {
    if (!running.sources.has(object.key)) report.objects.push(`input/${object.key}`);
  }
  if (!options.dryRun) {
    for (const name of report.functions) await ports.code.delete(name);
    for (const path of report.objects) {
      const slash = path.indexOf('/');
      await ports.objects.delete(path.slice(0, slash) as 'input' | 'work' | 'output', path.slice(slash + 1));
    }
  }
  return report;
}
