// gc: what no registered video and no running conversion owns (what a killed run leaves).
import { parseFunctionName } from '../core/naming';
import type { Bucket } from '../ports';
import type { OwnedStores } from './deletion';
import { listRoutes } from './routes';

export interface GarbageReport {
  functions: string[];
  /** `<bucket>/<key>` */
  objects: string[];
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
  ports: OwnedStores,
  runningNow: () => Promise<RunningExecutions>,
  options: {
    dryRun?: boolean;
    inputIsScratch?: boolean;
    /** Partial files a killed writer left (the local store's temporaries), as `<bucket>/<path>`. */
    abandoned?: { list(): Promise<string[]>; remove(path: string): Promise<void> };
  } = {},
): Promise<GarbageReport> {
  const functions = await ports.code.list(ports.functionPrefix);
  const work = await ports.objects.list('work', '');
  const output = await ports.objects.list('output', 'v/');
  const input = options.inputIsScratch ? await ports.objects.list('input', '') : [];
  const abandoned = (await options.abandoned?.list()) ?? [];
  const served = new Map((await listRoutes(ports.objects)).map((r) => [r.videoId, r.revision]));
  const running = await runningNow();
  const owned = (videoId: string, revision: string) => served.get(videoId) === revision || running.revisions.has(`${videoId}/${revision}`);

  const report: GarbageReport = { functions: [], objects: [] };
  for (const fn of functions) {
    const owner = parseFunctionName(ports.functionPrefix, fn.name);
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
  report.objects.push(...abandoned);
  if (!options.dryRun) {
    for (const name of report.functions) await ports.code.delete(name);
    for (const path of abandoned) await options.abandoned!.remove(path);
    for (const path of report.objects.filter((p) => !abandoned.includes(p))) {
      const slash = path.indexOf('/');
      await ports.objects.delete(path.slice(0, slash) as Bucket, path.slice(slash + 1));
    }
  }
  return report;
}
