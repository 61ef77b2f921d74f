// MakeCaptions: the revision's subtitle renditions (src/core/captions.ts) from the captions
// ValidateInput found — sidecar files beside the source in the input bucket, and the source's own
// text streams (read as WebVTT by ffmpeg). Each track is stored whole, as one WebVTT file on the
// video's timeline, beside its subtitle playlist (cut where the video's segments are) in the
// revision's folder of the output bucket (`v/<id>/<revision>/subtitles-<set>/`); the playback
// routes cut segment n from it when a player asks. WritePlaylist names the tracks in the
// multivariant playlist.
//
// WebVTT time 0 is the source's time 0: the first picture's timestamp in the first segment, read
// from its bytes as stored (its package, by range). A player places each cue by that map against
// the segments' own timestamps, so a cue at 0:02.000 shows with the frame the source shows at 2 s
// (the sound's first timestamp is some 20 ms earlier: its encoder's priming).
//
// Captions never cost the video: a file that is not UTF-8, not SubRip or WebVTT, or holds no cue
// in the video's time is left out and said (`warnings`); so are cues that cannot be shown.
// Faults of the stores are thrown, for the state machine to retry.
import { createHash } from 'node:crypto';
import {
  type CaptionSource,
  type CaptionTrack,
  type CaptionsResult,
  captionLabel,
  decodeCaptions,
  describeCaptions,
  languageName,
  mpegTimestamp,
  type ParsedCaptions,
  parseCaptions,
  renderStoredTrack,
  renderSubtitlePlaylist,
  uniqueNames,
} from '../core/captions';
import { parseOffsets } from '../core/documents';
import { CaptionInvalid, InputNotFound, PackageMismatch } from '../core/errors';
import type { Job, SegmentOffset } from '../core/model';
import { FORMAT_OF, keys, supportedExtension } from '../core/naming';
import { objectAt, parseJob, stringAt } from '../core/parse';
import { AUDIO_OR_VIDEO_STREAMS, earliestPts, VIDEO_STREAMS } from '../core/ts-continuity';
import { segmentCodecs } from '../core/ts-codecs';
import type { Ports } from '../ports';
import { readDocument } from '../read-document';
import { refusePublished } from '../registry/routes';
import { entry } from './entry';

export type MakeCaptionsPorts = Pick<Ports, 'objects' | 'code' | 'media'>;

export interface MakeCaptionsInput {
  job: Job;
  offsetsKey: string;
}

export function parseMakeCaptionsInput(event: unknown): MakeCaptionsInput {
  const raw = objectAt(event, 'input');
  return { job: parseJob(raw.job), offsetsKey: stringAt(raw.offsetsKey, 'offsetsKey') };
}

/** Bytes of the first segment read for its first timestamps: its PAT, PMT and first PES of each stream are near its start. */
const FIRST_BYTES = 256 * 1024;

/** The segments every rendition is cut like, in order: the top rung's with a ladder, else the one rendition's. */
export function referenceSegments(job: Job, segments: readonly SegmentOffset[]): SegmentOffset[] {
  const top = job.plan?.video === 'ladder' ? job.plan.rungs[0]?.name : undefined;
  const of = top === undefined ? [...segments] : segments.filter((s) => s.rendition === top);
  return of.sort((a, b) => (a.position ?? a.index) - (b.position ?? b.index));
}

export async function makeCaptions({ job, offsetsKey }: MakeCaptionsInput, ports: MakeCaptionsPorts): Promise<CaptionsResult> {
  const sources = job.captions ?? [];
  if (sources.length === 0) return {};
  // A published revision's files are what players hold: never written again.
  await refusePublished(ports.objects, job.videoId, job.revision);
  const offsets = await readDocument(ports.objects, 'work', offsetsKey, parseOffsets);
  const segments = referenceSegments(job, offsets.segments);
  const durations = segments.map((s) => s.duration);
  const duration = durations.reduce((sum, d) => sum + d, 0);
  const first = await firstSegment(segments[0], ports);
  const mpegts = mpegTimestamp(first.pts);

  const warnings: string[] = [];
  const read: { source: CaptionSource; parsed: ParsedCaptions }[] = [];
  for (const source of sources) {
    const label = captionLabel(source);
    try {
      const parsed = parseCaptions(await captionText(job, source, ports), source.file !== undefined ? source.format : 'vtt', duration);
      read.push({ source, parsed });
      warnings.push(...parsed.warnings.map((w) => `${label}: ${w}`));
    } catch (error) {
      if (!(error instanceof CaptionInvalid)) throw error;
      warnings.push(`${label} is left out: ${error.message}`);
    }
  }
  if (read.length === 0) return { warnings };

  const names = uniqueNames(read.map(({ source }) => (source.stream !== undefined && source.title) || languageName(source.language)));
  const tracks = read.map(({ source, parsed }, id) => ({
    id,
    language: source.language,
    name: names[id]!,
    from: captionLabel(source),
    cues: parsed.cues.length,
    text: renderStoredTrack(parsed.cues, mpegts),
  }));
  // The set is named by what it holds: a later set (another caption added) is another folder, never these files rewritten.
  const set = createHash('sha256')
    .update(JSON.stringify(tracks.map((t) => [t.language, t.name, t.text])))
    .update(durations.join(','))
    .digest('hex')
    .slice(0, 8);
  const made: CaptionTrack[] = [];
  for (const { text, ...track } of tracks) {
    const trackKey = keys.subtitleTrack(job.videoId, job.revision, set, track.id);
    const playlistKey = keys.subtitlePlaylist(job.videoId, job.revision, set, track.id);
    await ports.objects.put('output', trackKey, text, 'text/vtt; charset=utf-8');
    await ports.objects.put('output', playlistKey, renderSubtitlePlaylist(durations, String(track.id)), 'application/vnd.apple.mpegurl');
    made.push({ ...track, playlistKey, trackKey });
  }
  // One rendition's variant, which WritePlaylist then declares beside the subtitles, needs its CODECS (a ladder's rungs have theirs).
  const codecs = job.plan?.video === 'ladder' ? undefined : first.codecs;
  return { set, tracks: made, ...(codecs && { codecs }), ...(warnings.length > 0 && { warnings }) };
}

/** A sidecar's text from the input bucket, or a text stream's from the source through ffmpeg. */
async function captionText(job: Job, source: CaptionSource, ports: MakeCaptionsPorts): Promise<string> {
  if (source.file !== undefined) {
    const bytes = await ports.objects.get('input', source.file).catch((error: unknown) => {
      if (error instanceof InputNotFound) throw new CaptionInvalid('it was deleted from the input bucket');
      throw error;
    });
    return decodeCaptions(bytes);
  }
  const input = await ports.objects.readableLocation('input', job.source.key);
  return ports.media.textTrack({ input, format: FORMAT_OF[supportedExtension(job.source.key)], stream: source.stream });
}

/**
 * The first segment's earliest picture timestamp (of its sound, without a picture), in seconds on
 * the 90 kHz clock, and the CODECS its streams declare, read from its package.
 */
async function firstSegment(first: SegmentOffset | undefined, ports: MakeCaptionsPorts): Promise<{ pts: number; codecs?: string }> {
  if (!first) throw new PackageMismatch('the video has no segments to put captions on');
  const location = await ports.code.describe(first.functionName);
  if (!location) throw new PackageMismatch(`function ${first.functionName} does not exist`);
  const bytes = await ports.code.readRange(location.url, first.offset, first.offset + Math.min(first.length, FIRST_BYTES) - 1);
  const pts = earliestPts(bytes, VIDEO_STREAMS) ?? earliestPts(bytes, AUDIO_OR_VIDEO_STREAMS);
  if (pts === undefined) throw new PackageMismatch(`the first segment (${first.functionName}) has no timestamp in its first bytes`);
  const codecs = segmentCodecs(bytes);
  return { pts, ...(codecs && { codecs }) };
}

/** makeCaptions's entry in the step table. */
export const makeCaptionsStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'code', 'media'],
  variables: [],
  // The sidecars and a presigned GET of the source for ffmpeg; the first package read by range; the tracks under v/ only.
  access: {
    objects: { input: ['get', 'list'], work: ['get', 'list'], 'output/v': ['put'], 'output/routes': ['get'], output: ['list'] },
    code: ['read'],
  },
  parse: parseMakeCaptionsInput,
  run: (input, ports) => makeCaptions(input, ports),
  // Captions that could not be used are warnings of the conversion (`convert` prints them); the tracks made, a note.
  progress: (result) => {
    const made = describeCaptions(result);
    return { ...(made && { notes: [made] }), ...(result.warnings?.length && { warnings: result.warnings }) };
  },
});
