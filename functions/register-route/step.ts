// RegisterRoute: record the video so serve-segment answers for it. The route switches to the new
// revision in one write; only then are the previous revision and this run's work files removed.
import {
  numberAt, objectAt, parseJob, stringAt, type OffsetsDocument, type RouteRecord,
} from '../../src/core/model';
import { keys, playbackPath } from '../../src/core/naming';
import type { CodeStore, ObjectStore } from '../../src/ports';
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
  const offsets = JSON.parse(
    (await ports.objects.get('work', stringAt(raw.offsetsKey, 'offsetsKey'))).toString('utf8'),
  ) as OffsetsDocument;
  const packages = [...offsets.segments].sort((a, b) => a.index - b.index).map((s) => s.functionName);

  const previous = await readRoute(ports.objects, job.videoId);
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
  };
  await ports.objects.put('output', keys.route(job.videoId), JSON.stringify(record), 'application/json');

  if (previous && previous.revision !== job.revision) {
    await deleteRevision(ports, job.videoId, previous.revision, { functions: true, output: true, work: true }, previous.packages);
  }
  // Segments now live in their packages; the work copies and manifests are no longer needed.
  await deleteRevision(ports, job.videoId, job.revision, { functions: false, output: false, work: true });

  return {
    videoId: job.videoId,
    revision: job.revision,
    playbackPath: playbackPath(job.videoId),
    playlistKey,
    segmentCount: record.segmentCount,
    durationSeconds,
    packages: packages.length,
  };
}
