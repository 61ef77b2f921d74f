// What ffprobe says of an input, read into the model: its streams (ProbeResult), whether an H.264
// picture's keyframes have leading pictures (an open GOP), and, when it cannot read a file, why, in
// words a person can act on. An MP4's index is checked before ffprobe reads it (mp4-index.ts).
import { open } from 'node:fs/promises';
import { describeContent, SNIFF_BYTES } from '../../core/content';
import { NotMedia, TruncatedInput } from '../../core/errors';
import type { ProbeResult, TextTrack } from '../../core/model';
import { checkMp4Index, type ReadAt } from '../../core/mp4-index';
import type { MediaFormat } from '../../core/naming';
import { readRange } from '../http-range';
import { inputArgs, LABELS } from './arguments';
import { needsLoopback } from './loopback';
import { lastLine, type MediaLimits, outOfMemory, type RunResult, tooDemanding } from './process';

/**
 * Runs `use` on a reader of the location's bytes — a path's file, or a URL (ours: a presigned one,
 * or the relay's) by ranged reads — and its size; undefined when it cannot be read so (a missing
 * path, a server that answers no size): ffprobe's own reading then says what is wrong.
 */
async function withBytes<T>(location: string, use: (read: ReadAt, size: number) => Promise<T>): Promise<T | undefined> {
  if (!needsLoopback(location)) {
    const handle = await open(location, 'r').catch(() => undefined);
    if (!handle) return undefined;
    try {
      const { size } = await handle.stat();
      return await use(async (offset, length) => {
        const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        return buffer.subarray(0, bytesRead);
      }, size);
    } finally {
      await handle.close();
    }
  }
  const first = await fetch(location, { headers: { range: 'bytes=0-0' }, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  await first?.body?.cancel();
  // 206 names the whole size after the range; a server that ignores Range says it as the length.
  const stated =
    first?.status === 206 ? /\/(\d+)$/.exec(first.headers.get('content-range') ?? '')?.[1] : first?.headers.get('content-length');
  const size = first?.ok ? Number(stated ?? Number.NaN) : Number.NaN;
  if (!Number.isFinite(size) || size <= 0) return undefined;
  return use((offset, length) => readRange(location, offset, Math.min(size, offset + length) - 1), size);
}

/**
 * Refuses an MP4 whose index declares more samples than the file holds (CorruptIndex), reading its
 * boxes — before ffprobe allocates an entry for each.
 */
export async function checkIndex(location: string): Promise<void> {
  await withBytes(location, (read, size) => checkMp4Index(read, size));
}

/** The first bytes of a path or of the relay's URL: what a file looks like, for the message when it cannot be read. */
async function leadingBytes(location: string): Promise<Buffer> {
  try {
    return (await withBytes(location, (read, size) => read(0, Math.min(SNIFF_BYTES, size)))) ?? Buffer.alloc(0);
  } catch {
    return Buffer.alloc(0); // nothing to tell: ffprobe's own words will do
  }
}

/** Why ffprobe could not read a file as `format`, in the error a person can act on. */
export async function unreadable(location: string, format: MediaFormat, result: RunResult, limits: MediaLimits): Promise<Error> {
  if (outOfMemory(result, limits)) return tooDemanding('ffprobe', limits);
  if (result.timedOut) return new NotMedia(`ffprobe did not finish reading it as ${LABELS[format]} within ${limits.probeMs / 1000} s`);
  const guess = describeContent(await leadingBytes(location));
  if (guess && guess.format !== format) return new NotMedia(`it is not ${LABELS[format]} but ${guess.description}`);
  if (format === 'mp4' && guess?.format === 'mp4' && /moov atom not found/.test(result.stderr)) {
    return new TruncatedInput('it ends before its index (no moov atom): the upload was cut short, or the file is still being written');
  }
  // ffprobe names the file it was given (a scratch path or the relay's URL): leave that out.
  const target = inputArgs(location, format).at(-1)!;
  const why =
    result.code === 0
      ? 'no audio frames found'
      : lastLine(result.stderr)
          .split(target)
          .join('')
          .replace(/^[:\s]+/, '');
  return new NotMedia(`ffprobe cannot read it as ${LABELS[format]} (${why})`);
}

function parseRate(rate: unknown): number | undefined {
  if (typeof rate !== 'string') return undefined;
  const [num, den] = rate.split('/').map(Number);
  if (!num || !den) return undefined;
  return num / den;
}

interface FfprobeStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  level?: number;
  pix_fmt?: string;
  width?: number;
  height?: number;
  channels?: number;
  sample_rate?: string;
  avg_frame_rate?: string;
  bit_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  color_transfer?: string;
  color_primaries?: string;
  color_space?: string;
  color_range?: string;
  disposition?: { attached_pic?: number };
  /** ffprobe ≥ 5: the display matrix's rotation, counter-clockwise (-90 = a quarter turn clockwise). */
  side_data_list?: { side_data_type?: string; rotation?: number }[];
  /** ffprobe < 5: `rotate`, clockwise degrees. */
  tags?: { rotate?: string; language?: string; title?: string; handler_name?: string };
}

/** Text codecs ffmpeg turns into WebVTT (an mp4's mov_text; SubRip, WebVTT and ASS from other containers). */
const TEXT_CODECS = new Set(['mov_text', 'subrip', 'webvtt', 'ass', 'ssa', 'text']);

/** Degrees clockwise a player turns the picture (0, 90, 180 or 270). */
function rotationOf(stream: FfprobeStream): number {
  const matrix = stream.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const clockwise = matrix !== undefined ? -matrix : Number(stream.tags?.rotate ?? 0);
  if (!Number.isFinite(clockwise)) return 0;
  return (((Math.round(clockwise / 90) * 90) % 360) + 360) % 360;
}

/** ffprobe says "unknown" (or nothing) for what the file does not tell. */
function known(value: string | undefined): string | undefined {
  return value && value !== 'unknown' ? value : undefined;
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { format_name?: string; duration?: string; start_time?: string };
}

export function parseProbe(json: string): ProbeResult {
  const data = JSON.parse(json) as FfprobeOutput;
  const streams = data.streams ?? [];
  // Cover art in an mp3 or mp4 is a one-frame "video" stream; it is not video to play.
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const audioStreams = streams.filter((s) => s.codec_type === 'audio');
  const audio = audioStreams[0];
  const durations = [data.format?.duration, video?.duration, audio?.duration].map(Number).filter((d) => d > 0);
  const frameRate = video ? parseRate(video.avg_frame_rate ?? video.r_frame_rate) : undefined;
  const optional = <T>(name: string, value: T | undefined) => (value === undefined ? {} : { [name]: value });
  const start = Number(data.format?.start_time);
  return {
    formatName: data.format?.format_name ?? 'unknown',
    durationSeconds: durations[0] ?? 0,
    ...optional('startSeconds', Number.isFinite(start) && start !== 0 ? start : undefined),
    ...(video && {
      video: {
        codec: video.codec_name ?? 'unknown',
        width: video.width ?? 0,
        height: video.height ?? 0,
        ...optional('frameRate', frameRate),
        ...optional('bitRate', Number(video.bit_rate) > 0 ? Number(video.bit_rate) : undefined),
        ...optional('profile', known(video.profile)),
        ...optional('level', typeof video.level === 'number' && video.level > 0 ? video.level : undefined),
        ...optional('pixelFormat', known(video.pix_fmt)),
        ...optional('rotation', rotationOf(video) || undefined),
        ...optional('transfer', known(video.color_transfer)),
        ...optional('primaries', known(video.color_primaries)),
        ...optional('matrix', known(video.color_space)),
        ...optional('range', known(video.color_range)),
        ...optional('frames', Number(video.nb_frames) > 0 ? Number(video.nb_frames) : undefined),
      },
    }),
    ...(audioStreams.length > 1 && { audioTracks: audioStreams.length }),
    ...optional('textTracks', textTracksOf(streams)),
    ...(audio && {
      audio: {
        codec: audio.codec_name ?? 'unknown',
        channels: audio.channels ?? 0,
        sampleRate: Number(audio.sample_rate ?? 0),
        ...optional('profile', known(audio.profile)),
      },
    }),
  };
}

/** The text streams a player could show as subtitles, or undefined when there are none. */
function textTracksOf(streams: readonly FfprobeStream[]): TextTrack[] | undefined {
  const tracks = streams
    .filter((s) => s.codec_type === 'subtitle' && TEXT_CODECS.has(s.codec_name ?? '') && typeof s.index === 'number')
    .map((s) => ({
      stream: s.index!,
      codec: s.codec_name!,
      ...(known(s.tags?.language) && s.tags?.language !== 'und' && { language: s.tags!.language! }),
      ...(s.tags?.title && { title: s.tags.title }),
    }));
  return tracks.length > 0 ? tracks : undefined;
}

/** The first video stream's packets in its first GOP_SCAN_SECONDS: presentation time, decoding time, flags, one per line. */
const GOP_SCAN_SECONDS = 30;
export const GOP_SCAN = [
  '-v',
  'error',
  '-select_streams',
  'v:0',
  '-read_intervals',
  `%+${GOP_SCAN_SECONDS}`,
  '-show_entries',
  'packet=pts,dts,flags',
  '-of',
  'csv=p=0',
];

/**
 * Whether a keyframe has leading pictures: packets after it in decoding order that show before it.
 * H.264 allows none after an IDR (it empties the decoder); an open GOP's I-frame, a recovery
 * point, has them, and they reference the GOP before it — so a segment that starts at such a
 * keyframe cannot be decoded alone (the copy of one gave 551 decoding errors and no frame). Reads
 * GOP_SCAN's lines; an encoder's GOP structure holds for the whole stream, so its first seconds
 * tell. Packets flagged discard (before an edit list's start) are never shown and do not count.
 */
export function hasLeadingPictures(packets: string): boolean {
  let keyframe: number | undefined;
  for (const line of packets.split('\n')) {
    const [pts, , flags = ''] = line.trim().split(',');
    const at = Number(pts);
    if (!pts || !Number.isFinite(at) || flags.includes('D')) continue;
    if (flags.startsWith('K')) keyframe = at;
    else if (keyframe !== undefined && at < keyframe) return true;
  }
  return false;
}
