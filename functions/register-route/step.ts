// RegisterRoute: record the video so serve-segment answers for it. The route switches to the new
// revision in one write; only then are the previous revision and this run's work files removed.
import { parseOffsets } from '../../src/core/documents';
import { InvalidRequest } from '../../src/core/errors';
import { numberAt, objectAt, parseJob, stringAt, type Job, type RouteRecord } from '../../src/core/model';
import { keys, playbackPath } from '../../src/core/naming';
import type { Ports } from '../../src/ports';
import { readDocument } from '../../src/read-document';
import type { RetryOptions } from '../../src/core/retry';
import { deleteRevision, retriedStores, type OwnedStores } from '../../src/registry/deletion';
import { readRouteTolerant } from '../../src/registry/routes';

export type RegisterRoutePorts = Pick<Ports, 'objects' | 'code' | 'clock'>;

export interface RegisterRouteSettings {
  functionPrefix: string;
  /** Per-call retries of throttling and network faults (tests make them instant). */
  retry?: RetryOptions;
}

export interface RegisterRouteInput {
  job: Job;
  playlist: { playlistKey: string; durationSeconds: number };
  offsetsKey: string;
}

export function parseRegisterRouteInput(event: unknown): RegisterRouteInput {
  const raw = objectAt(event, 'input');
  const playlist = objectAt(raw.playlist, 'playlist');
  return {
    job: parseJob(raw.job),
    playlist: {
      playlistKey: stringAt(playlist.playlistKey, 'playlist.playlistKey'),
      durationSeconds: numberAt(playlist.durationSeconds, 'playlist.durationSeconds'),
    },
    offsetsKey: stringAt(raw.offsetsKey, 'offsetsKey'),
  };
}

export interface RouteResult {
  videoId: string;
  revision: string;
  playbackPath: string;
  playlistKey: string;
  segmentCount: number;
  durationSeconds: number;
  packages: number;
}

export async function registerRoute(
  input: RegisterRouteInput,
  ports: RegisterRoutePorts,
  settings: RegisterRouteSettings,
): Promise<RouteResult> {
  const { job } = input;
  const { playlistKey, durationSeconds } = input.playlist;
  const owned = retriedStores({ objects: ports.objects, code: ports.code, functionPrefix: settings.functionPrefix }, settings.retry);
  // An unreadable record is overwritten: what it named is no longer known, so gc finds it later.
  const { route: previous } = await readRouteTolerant(ports.objects, job.videoId);
  if (previous?.revision === job.revision) {
    // Registered already, by an earlier attempt of this Task (or an identical earlier run): the
    // work files may be gone, so finish the clean-up from the route record instead of failing.
    await finishCleanUp(owned, previous);
    return resultOf(previous);
  }
  const offsets = await readDocument(ports.objects, 'work', input.offsetsKey, parseOffsets);
  // Function name by package number: `<n>.ts` in the playlist is packages[n].
  const packages: string[] = [];
  for (const s of offsets.segments) packages[s.package] = s.functionName;
  if (packages.some((name) => !name) || packages.length === 0)
    throw new InvalidRequest('the offsets leave a package number without a function');
  const record: RouteRecord = {
    videoId: job.videoId,
    revision: job.revision,
    sourceKey: job.source.key,
    kind: job.source.kind,
    playlistKey,
    durationSeconds,
    segmentCount: offsets.segments.length,
    packages,
    registeredAt: new Date(ports.clock()).toISOString(),
    ...(previous && { replaced: { revision: previous.revision, packages: previous.packages } }),
  };
  await ports.objects.put('output', keys.route(job.videoId), JSON.stringify(record), 'application/json');
  await finishCleanUp(owned, record);
  return resultOf(record);
}

/** After the switch: the replaced revision goes, and this one's work files (segments now live in packages). */
async function finishCleanUp(ports: OwnedStores, record: RouteRecord): Promise<void> {
  if (record.replaced && record.replaced.revision !== record.revision) {
    const { revision, packages } = record.replaced;
    await deleteRevision(ports, record.videoId, revision, { functions: true, output: true, work: true }, packages);
  }
  await deleteRevision(ports, record.videoId, record.revision, { functions: false, output: false, work: true });
}

function resultOf(record: RouteRecord): RouteResult {
  return {
    videoId: record.videoId,
    revision: record.revision,
    playbackPath: playbackPath(record.videoId),
    playlistKey: record.playlistKey,
    segmentCount: record.segmentCount,
    durationSeconds: record.durationSeconds,
    packages: record.packages.length,
  };
}
