// gc: what no registered video and no running conversion owns (what a killed run leaves).
import { retiredInGrace } from '../core/grace';
import type { RouteRecord } from '../core/model';
import { keys, parseFunctionName, videoIdFor } from '../core/naming';
import type { Bucket } from '../ports';
import type { OwnedStores } from './deletion';
import { QUOTA_LEDGER_KEY, releaseCodeStorage, reservedRuns } from './quota';
import { listRoutes, readRouteTolerant, type UnreadableRoute } from './routes';

/** How long a deletion's mark is kept: the state machine's TimeoutSeconds (86,400 s), so no run from before the deletion can still register. */
export const DELETION_MARK_MS = 86_400_000;

export interface GarbageReport {
  functions: string[];
  /** `<bucket>/<key>` */
  objects: string[];
  /** What killed processes left outside the stores' listings (partial copies, staged packages, scratch folders, locks). */
  leftovers: string[];
  /** Records that could not be read: everything of their videos was kept. */
  unreadable: UnreadableRoute[];
  /** Videos being converted when gc came to them: left for the next run. */
  busy: string[];
  /** Code storage reservations of runs no longer running (a killed one's), given back: `<videoId>/<revision>`. */
  reservations: string[];
}

export interface RunningExecutions {
  /** `<videoId>/<revision>` of every execution still under way. */
  revisions: ReadonlySet<string>;
  /** Their source keys (the local input bucket holds a copy per run). */
  sources: ReadonlySet<string>;
}

/** What a killed writer left where no listing of the stores shows it (the local backend's). */
export interface Leftovers {
  list(): Promise<string[]>;
  remove(path: string): Promise<void>;
}

export interface GcOptions {
  dryRun?: boolean;
  inputIsScratch?: boolean;
  leftovers?: Leftovers;
  /**
   * Holds a video so no conversion of it can start or finish while gc decides about it and
   * deletes (the local backend's per-video lock): the release, or undefined when a conversion
   * holds it now. Where there is none (a stage), gc relies on the order of its reads alone.
   */
  hold?: (videoId: string) => Promise<(() => void) | undefined>;
  /** The video an input copy belongs to (its key's id under the backend's video id secret). */
  videoIdOf?: (sourceKey: string) => string;
  /** The time retired revisions' grace is measured against (tests pass their own). */
  now?: () => number;
}

/** A video's candidates, by what they are. */
interface Candidates {
  functions: { name: string; revision: string }[];
  objects: { bucket: Bucket; key: string; revision?: string }[];
}

/**
 * Finds (and unless `dryRun`, deletes) what no registered video and no running execution owns:
 * segment functions under the prefix, work files, playlists of revisions no route serves, and —
 * when `inputIsScratch` (the local backend, where the input bucket only holds copies for a run) —
 * input objects.
 *
 * Ownership is decided from reads made after the listing, in this order: the running executions,
 * then the routes. Whatever was listed was made by a run that started before the listing; if it is
 * still running when asked, it owns its revision; if it ended before, it registered its route (or
 * failed) before the routes are read. Reading routes first (as gc once did) let a run register
 * after that read and end before the question, so its packages looked like nobody's. A video
 * whose record cannot be read keeps everything. Then, per video, under `hold` where there is
 * one, its record is read again just before deleting, so a conversion that finished meanwhile
 * (or reuses a package the listing saw) keeps what it now owns.
 */
export async function collectGarbage(
  ports: OwnedStores,
  runningNow: () => Promise<RunningExecutions>,
  options: GcOptions = {},
): Promise<GarbageReport> {
  const functions = await ports.code.list(ports.functionPrefix);
  const work = await ports.objects.list('work', '');
  const output = await ports.objects.list('output', 'v/');
  const input = options.inputIsScratch ? await ports.objects.list('input', '') : [];
  const running = await runningNow();
  const { routes, unreadable, deleted } = await listRoutes(ports.objects);
  const now = (options.now ?? Date.now)();
  // A video's revisions still answered: the route's, and retired ones within their grace.
  const kept = (route: RouteRecord | undefined) =>
    new Set(route ? [route.revision, ...retiredInGrace(route, now).map((r) => r.revision)] : []);
  const served = new Map(routes.map((r) => [r.videoId, kept(r)]));
  const damaged = new Set(unreadable.map((u) => u.videoId));
  const isRunning = (videoId: string, revision: string | undefined) => running.revisions.has(`${videoId}/${revision}`);
  // A revision a route serves, a run is making, or an unreadable record may name.
  const owned = (videoId: string, revision: string) =>
    served.get(videoId)?.has(revision) || isRunning(videoId, revision) || damaged.has(videoId);

  // Candidates per video, before the per-video check.
  const byVideo = new Map<string, Candidates>();
  const of = (videoId: string) => {
    const found = byVideo.get(videoId) ?? { functions: [], objects: [] };
    byVideo.set(videoId, found);
    return found;
  };
  const report: GarbageReport = { functions: [], objects: [], leftovers: [], unreadable, busy: [], reservations: [] };
  // Under our prefix but of no video: never ours to keep.
  const orphans: string[] = [];
  for (const fn of functions) {
    const owner = parseFunctionName(ports.functionPrefix, fn.name);
    if (!owner) orphans.push(fn.name);
    else if (!owned(owner.videoId, owner.revision)) of(owner.videoId).functions.push({ name: fn.name, revision: owner.revision });
  }
  report.functions.push(...orphans);
  for (const object of work) {
    // The code storage ledger is every run's, no video's.
    if (object.key === QUOTA_LEDGER_KEY) continue;
    // Work files of a served revision were removed when it was registered: only running ones keep theirs.
    const [videoId = '', revision = ''] = object.key.split('/');
    if (!isRunning(videoId, revision) && !damaged.has(videoId)) of(videoId).objects.push({ bucket: 'work', key: object.key });
  }
  for (const object of output) {
    const [, videoId = '', revision = ''] = object.key.split('/');
    if (!owned(videoId, revision)) of(videoId).objects.push({ bucket: 'output', key: object.key, revision });
  }
  for (const object of input) {
    if (!running.sources.has(object.key))
      of((options.videoIdOf ?? videoIdFor)(object.key)).objects.push({ bucket: 'input', key: object.key });
  }

  for (const [videoId, candidates] of byVideo) {
    const release = options.hold ? await options.hold(videoId) : () => undefined;
    if (!release) {
      report.busy.push(videoId);
      continue;
    }
    try {
      // Read again now: a conversion may have registered a revision the first read did not see.
      const again = await readRouteTolerant(ports.objects, videoId);
      if (again.unreadable) {
        report.unreadable.push(again.unreadable);
        continue;
      }
      const keep = kept(again.route);
      const functionsToGo = candidates.functions.filter((f) => !keep.has(f.revision)).map((f) => f.name);
      // Work files and input copies belong to runs, and none runs now; playlists to their revision.
      const objectsToGo = candidates.objects.filter((o) => o.bucket !== 'output' || !keep.has(o.revision ?? ''));
      report.functions.push(...functionsToGo);
      report.objects.push(...objectsToGo.map((o) => `${o.bucket}/${o.key}`));
      if (!options.dryRun) {
        for (const name of functionsToGo) await ports.code.delete(name);
        for (const o of objectsToGo) await ports.objects.delete(o.bucket, o.key);
      }
    } finally {
      release();
    }
  }
  if (!options.dryRun) for (const name of orphans) await ports.code.delete(name);
  // What a killed run reserved of the code storage, and never gave back.
  report.reservations = (await reservedRuns(ports.objects)).filter((run) => !running.revisions.has(run));
  if (!options.dryRun) for (const run of report.reservations) await releaseCodeStorage(ports.objects, run);
  // A deletion's mark outlives every run that began before it (an execution runs at most a day).
  for (const mark of deleted.filter((d) => now - Date.parse(d.deletedAt) > DELETION_MARK_MS)) {
    report.objects.push(`output/${keys.route(mark.videoId)}`);
    if (!options.dryRun) await ports.objects.delete('output', keys.route(mark.videoId));
  }
  if (options.leftovers) {
    report.leftovers = await options.leftovers.list();
    if (!options.dryRun) for (const path of report.leftovers) await options.leftovers.remove(path);
  }
  return report;
}
