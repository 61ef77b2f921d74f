// WritePlaylist: a VOD playlist with one EXT-X-BYTERANGE per segment (each pointing into its
// package, `<revision>/<package>.ts`), checked against RFC 8216 before it is written.
import { parseOffsets } from '../core/documents';
import { captionsResultAt, objectAt, parseJob, stringAt } from '../core/parse';
import type { Job } from '../core/model';
import { keys, subtitlesFolder } from '../core/naming';
import { PlaylistInvalid } from '../core/errors';
import type { EncodingPlan, RenditionResult, RungPlan, SegmentOffset, VideoStream } from '../core/model';
import { uprightSize } from '../core/ladder';
import { renditionNamed } from '../core/renditions';
import {
  assertMultivariant,
  assertPlaylist,
  I_FRAMES_SUFFIX,
  measuredBandwidth,
  type PlaylistSegment,
  renderMultivariant,
  renderPlaylist,
  type SubtitleRendition,
  type Variant,
} from '../core/playlist';
import type { CaptionsResult } from '../core/captions';
import type { Ports } from '../ports';
import { readDocument } from '../read-document';
import { refusePublished } from '../registry/routes';
import { entry } from './entry';

export type WritePlaylistPorts = Pick<Ports, 'objects'>;

export interface WritePlaylistInput {
  job: Job;
  offsetsKey: string;
  /** MakeCaptions' result: its tracks become the multivariant playlist's subtitle renditions. */
  captions?: CaptionsResult;
}

export function parseWritePlaylistInput(event: unknown): WritePlaylistInput {
  const raw = objectAt(event, 'input');
  const captions = captionsResultAt(raw.captions, 'captions');
  return { job: parseJob(raw.job), offsetsKey: stringAt(raw.offsetsKey, 'offsetsKey'), ...(captions.set && { captions }) };
}

export interface PlaylistResult {
  playlistKey: string;
  segmentCount: number;
  durationSeconds: number;
  targetDuration: number;
  /** A ladder's rungs, from the top down: `playlistKey` is then the multivariant playlist naming their media playlists. */
  renditions?: RenditionResult[];
  /** One rendition with subtitles: its media playlist, which the multivariant playlist at `playlistKey` names. */
  mediaPlaylistKey?: string;
}

/** A player that does not measure first starts with the first variant listed: the highest at or below this peak. */
export const FIRST_VARIANT_MAX_BANDWIDTH = 1_200_000;

/**
 * Package n of a revision is addressed as `<revision>/<n>.ts`, relative to the playlist, so any
 * host name works — and a player holding this playlist after the video is converted again gets
 * this revision's bytes (for the grace period) or 410, never the new revision's at these offsets.
 */
export function packageUri(revision: string, packageIndex: number): string {
  return `${revision}/${packageIndex}.ts`;
}

export async function writePlaylist({ job, offsetsKey, captions }: WritePlaylistInput, ports: WritePlaylistPorts): Promise<PlaylistResult> {
  // A published revision's playlist is what players hold: never written again (ValidateInput refused such a run already).
  await refusePublished(ports.objects, job.videoId, job.revision);
  const offsets = await readDocument(ports.objects, 'work', offsetsKey, parseOffsets);
  if (job.plan?.video === 'ladder') return writeLadder(job, job.plan.rungs, offsets.segments, ports, subtitlesOf(job, captions));
  const segments = [...offsets.segments].sort((a, b) => a.index - b.index);
  const subtitles = subtitlesOf(job, captions);
  if (subtitles.length > 0) return writeOneWithSubtitles(job, segments, subtitles, captions?.codecs, ports);
  const text = renderPlaylist(
    segments.map((s) => ({ duration: s.duration, uri: packageUri(job.revision, s.package), length: s.length, offset: s.offset })),
  );
  const checked = assertPlaylist(text);
  const playlistKey = keys.playlist(job.videoId, job.revision);
  await ports.objects.put('output', playlistKey, text, 'application/vnd.apple.mpegurl');
  return {
    playlistKey,
    segmentCount: segments.length,
    durationSeconds: segments.reduce((sum, s) => sum + s.duration, 0),
    targetDuration: checked.targetDuration,
  };
}

/**
 * One rendition with subtitles: a subtitle rendition is named by a multivariant playlist, so the
 * revision's playlist is one, naming the rendition's media playlist (`<revision>/<profile>.m3u8`,
 * its segments' URIs `<package>.ts` beside it, as a rung's are) with its measured bit rates, the
 * CODECS read from its first segment and its picture's size (none for sound alone).
 */
async function writeOneWithSubtitles(
  job: Job,
  segments: readonly SegmentOffset[],
  subtitles: SubtitleRendition[],
  codecs: string | undefined,
  ports: WritePlaylistPorts,
): Promise<PlaylistResult> {
  if (!codecs) throw new PlaylistInvalid('the first segment has no codecs recorded for its variant');
  const name = job.options.profile;
  const entries = segments.map((s) => ({ duration: s.duration, uri: `${s.package}.ts`, length: s.length, offset: s.offset }));
  const text = renderPlaylist(entries);
  const checked = assertPlaylist(text);
  const mediaPlaylistKey = keys.renditionPlaylist(job.videoId, job.revision, name);
  await ports.objects.put('output', mediaPlaylistKey, text, 'application/vnd.apple.mpegurl');
  const size = job.plan && job.media.video ? outputSize(job.plan, job.media.video) : { width: 0, height: 0 };
  const variant = {
    uri: `${job.revision}/${name}.m3u8`,
    codecs,
    ...size,
    ...measuredBandwidth(entries),
    frameRate: job.plan?.video === 'none' ? undefined : job.media.video?.frameRate,
  };
  const multivariant = renderMultivariant([variant], [], subtitles);
  assertMultivariant(multivariant);
  const playlistKey = keys.playlist(job.videoId, job.revision);
  await ports.objects.put('output', playlistKey, multivariant, 'application/vnd.apple.mpegurl');
  return {
    playlistKey,
    mediaPlaylistKey,
    segmentCount: segments.length,
    durationSeconds: segments.reduce((sum, s) => sum + s.duration, 0),
    targetDuration: checked.targetDuration,
  };
}

/** One rendition's picture as it is made: the source's (upright), or its rendition's box; none for sound alone. */
export function outputSize(plan: EncodingPlan, video: VideoStream): { width: number; height: number } {
  if (plan.video === 'none' || plan.video === 'ladder') return { width: 0, height: 0 };
  const upright = uprightSize(video);
  if (plan.video === 'copy') return upright;
  const { size } = renditionNamed(plan.rendition);
  // Fitted into the box and padded to it; the source's size made even (4:2:0).
  if (size.fit === 'box') return { width: size.width, height: size.height };
  return { width: Math.trunc(upright.width / 2) * 2, height: Math.trunc(upright.height / 2) * 2 };
}

/**
 * A ladder's playlists: each rung's media playlist (`<revision>/<rung>.m3u8`, its segments'
 * URIs `<package>.ts` beside it), checked as a single rendition's is and cut at the same times in
 * every rung; then the multivariant playlist at the revision's playlist key, naming them with
 * their measured bit rates and the CODECS read from their first segment.
 */
async function writeLadder(
  job: Job,
  rungs: readonly RungPlan[],
  offsets: readonly SegmentOffset[],
  ports: WritePlaylistPorts,
  subtitles: SubtitleRendition[],
): Promise<PlaylistResult> {
  const renditions: RenditionResult[] = [];
  const iFrames: Omit<Variant, 'frameRate'>[] = [];
  let reference: { name: string; durations: string } | undefined;
  let targetDuration = 0;
  for (const rung of rungs) {
    const segments = offsets.filter((s) => s.rendition === rung.name).sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
    const entries = segments.map((s) => ({ duration: s.duration, uri: `${s.package}.ts`, length: s.length, offset: s.offset }));
    const text = renderPlaylist(entries);
    const checked = assertPlaylist(text);
    // A player switches rungs at any segment boundary: every rung's EXTINF list is the same.
    const durations = entries.map((e) => e.duration.toFixed(6)).join(',');
    reference ??= { name: rung.name, durations };
    if (durations !== reference.durations)
      throw new PlaylistInvalid(`the ${rung.name} rung's segments are not cut where the ${reference.name} rung's are`);
    targetDuration = Math.max(targetDuration, checked.targetDuration);
    const codecs = segments[0]?.codecs;
    if (!codecs) throw new PlaylistInvalid(`the ${rung.name} rung's first segment has no codecs recorded`);
    // A variant declaring no sound would be taken for a picture alone (hls.js keeps such a rung apart from the others).
    if (job.plan?.audio !== 'none' && !codecs.includes('mp4a.'))
      throw new PlaylistInvalid(`the ${rung.name} rung's first segment has no sound to declare (CODECS ${codecs})`);
    const playlistKey = keys.renditionPlaylist(job.videoId, job.revision, rung.name);
    await ports.objects.put('output', playlistKey, text, 'application/vnd.apple.mpegurl');
    // Its keyframes, each a range inside its segment's: the I-frame playlist trick play and scrubbing read.
    const keyframes = iFrameEntries(segments);
    const iFramesKey = keys.iFramePlaylist(job.videoId, job.revision, rung.name);
    const iFrameText = renderPlaylist(keyframes, { iFramesOnly: true });
    assertPlaylist(iFrameText);
    await ports.objects.put('output', iFramesKey, iFrameText, 'application/vnd.apple.mpegurl');
    const variant = { name: rung.name, width: rung.width, height: rung.height, codecs };
    renditions.push({ ...variant, ...measuredBandwidth(entries), playlistKey, iFramesKey });
    iFrames.push({
      ...variant,
      codecs: codecs.split(',')[0]!,
      ...measuredBandwidth(keyframes),
      uri: `${job.revision}/${rung.name}${I_FRAMES_SUFFIX}.m3u8`,
    });
  }
  const first = renditions.find((r) => r.bandwidth <= FIRST_VARIANT_MAX_BANDWIDTH) ?? renditions.at(-1)!;
  const ordered = [first, ...renditions.filter((r) => r !== first)];
  const frameRate = job.media.video?.frameRate;
  const text = renderMultivariant(
    ordered.map((r) => ({ ...r, uri: `${job.revision}/${r.name}.m3u8`, frameRate })),
    iFrames,
    subtitles,
  );
  assertMultivariant(text);
  const playlistKey = keys.playlist(job.videoId, job.revision);
  await ports.objects.put('output', playlistKey, text, 'application/vnd.apple.mpegurl');
  const top = offsets.filter((s) => s.rendition === rungs[0]!.name);
  return {
    playlistKey,
    segmentCount: top.length,
    durationSeconds: top.reduce((sum, s) => sum + s.duration, 0),
    targetDuration,
    renditions,
  };
}

/** The caption set's tracks as subtitle renditions, their URIs relative to the multivariant playlist's (`/v/<id>/`). */
function subtitlesOf(job: Job, captions: CaptionsResult | undefined): SubtitleRendition[] {
  const { set, tracks = [] } = captions ?? {};
  if (!set) return [];
  return tracks.map((t) => ({ uri: `${job.revision}/${subtitlesFolder(set)}/${t.id}.m3u8`, language: t.language, name: t.name }));
}

/**
 * A rung's keyframes as I-frame playlist entries: each one's range inside its package (its
 * segment's offset and its own inside the segment), and its time until the next keyframe (the
 * last's, until the rung's end).
 */
export function iFrameEntries(segments: readonly SegmentOffset[]): PlaylistSegment[] {
  const total = segments.reduce((sum, s) => sum + s.duration, 0);
  const frames = segments.flatMap((s) =>
    (s.keyframes ?? []).map(([offset, length, pts]) => ({ s, offset: offset!, length: length!, pts: pts! })),
  );
  if (frames.length === 0) throw new PlaylistInvalid('a rung has no keyframes recorded');
  const first = frames[0]!.pts;
  return frames.map((f, i) => ({
    duration: Math.max(0, (frames[i + 1]?.pts ?? first + total) - f.pts),
    uri: `${f.s.package}.ts`,
    length: f.length,
    offset: f.s.offset + f.offset,
  }));
}

/** writePlaylist's entry in the step table. */
export const writePlaylistStep = entry({
  invokedBy: 'state machine',
  ports: ['objects'],
  variables: [],
  // The playlist goes under v/ only: never a route record.
  access: { objects: { work: ['get', 'list'], 'output/v': ['put'], 'output/routes': ['get'], output: ['list'] } },
  parse: parseWritePlaylistInput,
  run: (input, ports) => writePlaylist(input, ports),
});
