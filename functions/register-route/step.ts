// RegisterRoute: record the video so serve-segment answers for it. The route switches to the new
// revision in one write; only then are the previous revision and this run's work files removed.
import { parseOffsets } from '../../src/core/documents';
import { InvalidRequest } from '../../src/core/errors';
import {
  isInGrace,
  numberAt,
  objectAt,
  parseJob,
  retiredInGrace,
  stringAt,
  type Job,
  type RetiredRevision,
  type RouteRecord,
} from '../../src/core/model';
import { keys, playbackPath } from '../../src/core/naming';
import type { Ports } from '../../src/ports';
import { readDocument } from '../../src/read-document';
import type { RetryOptions } from '../../src/core/retry';
import { deleteRevision, retriedStores, type OwnedStores } from '../../src/registry/deletion';
import { readRouteTolerant } from '../../src/registry/routes';

export type RegisterRoutePorts = Pick<Ports, 'objects' | 'code' | 'clock'>;

export interface RegisterRouteSettings {
  functionPrefix: string;
  /** How long the replaced revision stays addressable (LAMBDA_HLS_REVISION_GRACE_SECONDS). */
  revisionGraceSeconds: number;
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
  const now = ports.clock();
  if (previous?.revision === job.revision) {
    // Registered already, by an earlier attempt of this Task (or an identical earlier run): the
    // work files may be gone, so finish the clean-up from the route record instead of failing.
    await finishCleanUp(owned, previous, now);
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
    registeredAt: new Date(now).toISOString(),
    addressing: 'revision',
  };
  // The revision served until now stays addressable for the grace period (a player may hold its
  // playlist); those retired before stay until their own end. Those past it are deleted below and
  // left out. The record is written once: rewriting it afterwards could undo a newer conversion's.
  const expiredBefore = (previous?.retired ?? []).filter((r) => !isInGrace(r, now));
  const retired = [
    ...(previous
      ? [
          {
            revision: previous.revision,
            packages: previous.packages,
            playlistKey: previous.playlistKey,
            until: new Date(now + settings.revisionGraceSeconds * 1000).toISOString(),
            ...(previous.addressing && { addressing: previous.addressing }),
          },
        ]
      : []),
    ...(previous ? retiredInGrace(previous, now) : []),
  ].filter((r) => r.revision !== job.revision);
  if (retired.length > 0) record.retired = retired;
  await ports.objects.put('output', keys.route(job.videoId), JSON.stringify(record), 'application/json');
  await finishCleanUp(owned, record, now, expiredBefore);
  return resultOf(record);
}

/**
 * After the switch: retired revisions past their grace go (functions, playlist; the record's own,
 * which expired since it was written, and `alsoExpired`, those the previous record still named),
 * and this revision's work files (segments now live in packages; a retired revision's went when it
 * was registered). What a failure here leaves, a retry of the Task (from the record) or gc removes.
 */
async function finishCleanUp(ports: OwnedStores, record: RouteRecord, now: number, alsoExpired: RetiredRevision[] = []): Promise<void> {
  const expired = [...alsoExpired, ...(record.retired ?? []).filter((r) => !isInGrace(r, now))];
  for (const { revision, packages } of expired) {
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
