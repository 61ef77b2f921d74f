// RegisterRoute: record the video so serve-segment answers for it. The route switches to the new
// revision in one write; only then are the previous revision and this run's work files removed.
import { parseOffsets } from '../core/documents';
import { InputNotFound, InvalidRequest, VideoDeleted } from '../core/errors';
import { isInGrace, retiredInGrace } from '../core/grace';
import { arrayAt, captionsResultAt, numberAt, objectAt, parseJob, renditionOrRungAt, stringAt } from '../core/parse';
import type { CaptionsResult } from '../core/captions';
import {
  type Job,
  ladderVariants,
  type OffsetsDocument,
  type RenditionResult,
  type RenditionVariant,
  type RetiredRevision,
  type RouteRecord,
} from '../core/model';
import { keys, playbackPath, posterPath, renditionPlaybackPath, storyboardPath } from '../core/naming';
import { parsePreviewsResult, type PreviewsResult, routePictures } from '../core/previews';
import type { Ports } from '../ports';
import { readDocument } from '../read-document';
import type { RetryOptions } from '../core/retry';
import { deleteRevision, retriedStores, type OwnedStores } from '../registry/deletion';
import { conditionOf, writeConditionally } from '../registry/conditional';
import { releaseCodeStorage } from '../registry/quota';
import { readRouteState, refuseIfSuperseded, type RouteState } from '../registry/routes';
import { entry } from './entry';

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
  playlist: { playlistKey: string; durationSeconds: number; renditions?: RenditionResult[]; mediaPlaylistKey?: string };
  offsetsKey: string;
  /** MakePreviews's result (absent from a run of the state machine before it). */
  previews?: PreviewsResult;
  /** MakeCaptions' result (absent from a run of the state machine before it). */
  captions?: CaptionsResult;
}

export function parseRegisterRouteInput(event: unknown): RegisterRouteInput {
  const raw = objectAt(event, 'input');
  const playlist = objectAt(raw.playlist, 'playlist');
  return {
    job: parseJob(raw.job),
    playlist: {
      playlistKey: stringAt(playlist.playlistKey, 'playlist.playlistKey'),
      durationSeconds: numberAt(playlist.durationSeconds, 'playlist.durationSeconds'),
      ...(playlist.renditions !== undefined && { renditions: renditionResultsAt(playlist.renditions, 'playlist.renditions') }),
      ...(playlist.mediaPlaylistKey !== undefined && {
        mediaPlaylistKey: stringAt(playlist.mediaPlaylistKey, 'playlist.mediaPlaylistKey'),
      }),
    },
    offsetsKey: stringAt(raw.offsetsKey, 'offsetsKey'),
    ...(raw.previews !== undefined && { previews: parsePreviewsResult(raw.previews) }),
    ...(raw.captions !== undefined && { captions: captionsResultAt(raw.captions, 'captions') }),
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
  /** A ladder's rungs: each one's variant and the path of its media playlist. */
  renditions?: RenditionRoute[];
  /** The poster's and the storyboard track's playback paths, when the video has them. */
  poster?: string;
  storyboard?: string;
}

/** A rung as `convert` reports it (RouteResult.renditions): its variant and its media playlist's playback path. */
export type RenditionRoute = RenditionVariant & { playlist: string };

function renditionResultsAt(value: unknown, path: string): RenditionResult[] {
  return arrayAt(value, path).map((item, i) => {
    const r = objectAt(item, `${path}[${i}]`);
    const at = (name: string) => `${path}[${i}].${name}`;
    return {
      name: renditionOrRungAt(r.name, at('name')),
      width: numberAt(r.width, at('width')),
      height: numberAt(r.height, at('height')),
      bandwidth: numberAt(r.bandwidth, at('bandwidth')),
      averageBandwidth: numberAt(r.averageBandwidth, at('averageBandwidth')),
      codecs: stringAt(r.codecs, at('codecs')),
      playlistKey: stringAt(r.playlistKey, at('playlistKey')),
      ...(r.iFramesKey !== undefined && { iFramesKey: stringAt(r.iFramesKey, at('iFramesKey')) }),
    };
  });
}

export async function registerRoute(
  input: RegisterRouteInput,
  ports: RegisterRoutePorts,
  settings: RegisterRouteSettings,
): Promise<RouteResult> {
  const { job } = input;
  const owned = retriedStores({ objects: ports.objects, code: ports.code, functionPrefix: settings.functionPrefix }, settings.retry);
  // Read once it is needed: a retry after the switch finds the work files gone and finishes from the record.
  let offsets: OffsetsDocument | undefined;
  // Written only if no other writer (a conversion of another upload, a delete) changed it since it was read.
  const outcome = await writeConditionally(
    ports.objects,
    'output',
    keys.route(job.videoId),
    async () => {
      // An unreadable record is overwritten: what it named is no longer known, so gc finds it later.
      const seen = await readRouteState(ports.objects, job.videoId);
      return { state: seen, condition: conditionOf(seen.etag) };
    },
    async (seen) => {
      const previous = seen.route;
      const now = ports.clock();
      // Registered already, by an earlier attempt of this Task (or an identical earlier run): the
      // work files may be gone, so the clean-up is finished from the route record instead of failing.
      if (previous?.revision === job.revision) return { result: { record: previous, now, expiredBefore: [] } };
      refuseIfDeleted(job, seen);
      // S3 notifies uploads of a key in no particular order: the later upload is served, whichever finishes last.
      refuseIfSuperseded(previous, job.upload, job.source.key);
      try {
        offsets ??= await readDocument(ports.objects, 'work', input.offsetsKey, parseOffsets);
      } catch (error) {
        // A delete since the record was read takes this run's work files too: said as the deletion it is.
        if (error instanceof InputNotFound) refuseIfDeleted(job, await readRouteState(ports.objects, job.videoId));
        throw error;
      }
      const record = newRecord(job, input, offsets, previous, now, settings);
      // Those retired before and past their grace, the record left out; they go once it is written.
      const expiredBefore = (previous?.retired ?? []).filter((r) => !isInGrace(r, now));
      return { body: JSON.stringify(record), result: { record, now, expiredBefore } };
    },
  );
  await finishCleanUp(owned, outcome.record, outcome.now, outcome.expiredBefore);
  return resultOf(outcome.record);
}

/**
 * Refuses (VideoDeleted) when the video was deleted while this run converted it: its record is not
 * as ValidateInput found it, and is now a deletion's mark, or gone. Its functions may be gone, so
 * no route may name them.
 */
function refuseIfDeleted(job: Job, seen: RouteState): void {
  const changed = job.basis !== undefined && job.basis.routeEtag !== seen.etag;
  if (!changed || !(seen.deleted || (seen.etag === undefined && job.basis?.routeEtag !== undefined))) return;
  throw new VideoDeleted(
    `${job.videoId} was deleted${seen.deleted ? ` at ${seen.deleted.deletedAt}` : ''}, while this run converted it: it is not registered again (upload it again to convert it)`,
  );
}

/**
 * The record that switches the video to this revision. The revision served until now stays
 * addressable for the grace period (a player may hold its playlist); those retired before stay
 * until their own end, and those past it are left out.
 */
function newRecord(
  job: Job,
  { playlist, previews, captions }: Pick<RegisterRouteInput, 'playlist' | 'previews' | 'captions'>,
  offsets: OffsetsDocument,
  previous: RouteRecord | undefined,
  now: number,
  settings: RegisterRouteSettings,
): RouteRecord {
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
    playlistKey: playlist.playlistKey,
    durationSeconds: playlist.durationSeconds,
    // A ladder's count is one rung's: each rung has the same segments.
    segmentCount: offsets.segments.filter((s) => s.rendition === offsets.segments[0]?.rendition).length,
    packages,
    registeredAt: new Date(now).toISOString(),
    addressing: 'revision',
    ...(job.upload && { upload: job.upload }),
    // One rendition: its own playlist, or (with subtitles) the media playlist its multivariant playlist names.
    renditions: playlist.renditions?.map(({ name, playlistKey, ...variant }) => ({ rendition: name, playlistKey, ...variant })) ?? [
      { rendition: job.options.profile, playlistKey: playlist.mediaPlaylistKey ?? playlist.playlistKey },
    ],
  };
  const pictures = routePictures(previews);
  if (pictures) record.pictures = pictures;
  if (captions?.set && captions.tracks?.length)
    record.captions = {
      set: captions.set,
      tracks: captions.tracks.map(({ id, language, name, playlistKey, trackKey }) => ({ id, language, name, playlistKey, trackKey })),
    };
  const retired = [
    ...(previous
      ? [
          {
            revision: previous.revision,
            packages: previous.packages,
            playlistKey: previous.playlistKey,
            until: new Date(now + settings.revisionGraceSeconds * 1000).toISOString(),
            ...(previous.addressing && { addressing: previous.addressing }),
            ...(previous.renditions && { renditions: previous.renditions }),
            ...(previous.pictures && { pictures: previous.pictures }),
          },
        ]
      : []),
    ...(previous ? retiredInGrace(previous, now) : []),
  ].filter((r) => r.revision !== job.revision);
  if (retired.length > 0) record.retired = retired;
  return record;
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
  // Its functions are stored and counted in the account's code storage: the reservation is given back.
  await releaseCodeStorage(ports.objects, `${record.videoId}/${record.revision}`);
}

function resultOf(record: RouteRecord): RouteResult {
  const ladder = ladderVariants(record, (r) => renditionPlaybackPath(record.videoId, record.revision, r.rendition));
  return {
    videoId: record.videoId,
    revision: record.revision,
    playbackPath: playbackPath(record.videoId),
    playlistKey: record.playlistKey,
    segmentCount: record.segmentCount,
    durationSeconds: record.durationSeconds,
    packages: record.packages.length,
    ...(ladder && { renditions: ladder }),
    ...(record.pictures?.posterKey && { poster: posterPath(record.videoId) }),
    ...(record.pictures?.storyboardKey && { storyboard: storyboardPath(record.videoId, record.revision) }),
  };
}

/** registerRoute's entry in the step table. */
export const registerRouteStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'code', 'clock'],
  variables: ['LAMBDA_HLS_FUNCTION_PREFIX'],
  // Switch the route (its record only), then delete the previous revision's playlist and functions and the work files.
  access: {
    objects: {
      work: ['get', 'delete', 'list'],
      'work/quota': ['put'],
      'output/routes': ['get', 'put'],
      'output/v': ['delete'],
      output: ['list'],
    },
    code: ['delete'],
  },
  parse: parseRegisterRouteInput,
  run: registerRoute,
});
