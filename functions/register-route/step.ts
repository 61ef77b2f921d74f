// RegisterRoute: record the video so serve-segment answers for it. The route switches to the new
// revision in one write; only then are the previous revision and this run's work files removed.
import {
  numberAt, objectAt, parseJob, stringAt, type OffsetsDocument, type RouteRecord,
} from '../../src/core/model';
import { InvalidRequest } from '../../src/core/errors';
import { keys, playbackPath } from '../../src/core/naming';
import { readJson, type CodeStore, type ObjectStore } from '../../src/ports';
import { deleteRevision, readRoute } from '../../src/registry';

export interface RegisterRoutePorts {
  objects: ObjectStore;
  code: CodeStore;
  functionPrefix: string;
  now?: () => number;
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

export async function registerRoute(event: unknown, ports: RegisterRoutePorts): Promise<RouteResult> {
  const raw = objectAt(event, 'input');
  const job = parseJob(raw.job);
  const playlist = objectAt(raw.playlist, 'playlist');
  const playlistKey = stringAt(playlist.playlistKey, 'playlist.playlistKey');
  const durationSeconds = numberAt(playlist.durationSeconds, 'playlist.durationSeconds');
  const previous = await readRoute(ports.objects, job.videoId);
  if (previous?.revision === job.revision) {
    // Registered already, by an earlier attempt of this Task (or an identical earlier run): the
    // work files may be gone, so finish the clean-up from the route record instead of failing.
    await finishCleanUp(ports, previous);
    return resultOf(previous);
  }
  const offsets = await readJson<OffsetsDocument>(ports.objects, 'work', stringAt(raw.offsetsKey, 'offsetsKey'));
  // Function name by package number: `<n>.ts` in the playlist is packages[n].
  const packages: string[] = [];
  for (const s of offsets.segments) packages[s.package] = s.functionName;
  if (packages.some((name) => !name) || packages.length === 0) throw new InvalidRequest('the offsets leave a package number without a function');
  const record: RouteRecord = {
    videoId: job.videoId,
    revision: job.revision,
    sourceKey: job.source.key,
    kind: job.source.kind,
    playlistKey,
    durationSeconds,
    segmentCount: offsets.segments.length,
    packages,
    registeredAt: new Date((ports.now ?? Date.now)()).toISOString(),
    ...(previous && { replaced: { revision: previous.revision, packages: previous.packages } }),
  };
  await ports.objects.put('output', keys.route(job.videoId), JSON.stringify(record), 'application/json');
  await finishCleanUp(ports, record);
  return resultOf(record);
}

/** After the switch: the replaced revision goes, and this one's work files (segments now live in packages). */
async function finishCleanUp(ports: RegisterRoutePorts, record: RouteRecord): Promise<void> {
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
