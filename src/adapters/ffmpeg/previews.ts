// The pictures' ffmpeg runs (src/core/previews.ts says what they are for): a poster candidate —
// ffmpeg's `thumbnail` filter picks the frame closest to the average of a few seconds' frames, so
// not a cut or a flash — and a storyboard sprite from the keyframes alone (`-skip_frame nokey`:
// one decoded frame per GOP). Each chosen frame's time and mean luma are printed by the metadata
// filter to stdout (signalstats adds the luma), read back here.
import { PreviewFailed } from '../../core/errors';
import type { PosterFrame, PosterRequest, StoryboardRequest } from '../../ports';
import { asFfmpegInput, inputArgs, toneMapFilters } from './arguments';
import { loopbackFor } from './loopback';
import { ffmpegCause, type MediaLimits, outOfMemory, run, tooDemanding } from './process';

const COMMON = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'];
/** Each frame the filter passes: `frame:0 pts:49152 pts_time:3.84`, then `lavfi.signalstats.YAVG=125.7`. */
const PRINT = 'signalstats,metadata=mode=print:key=lavfi.signalstats.YAVG:file=-';

/** The frames a metadata filter printed: each one's time and mean luma. */
export function parseFramePrint(text: string): PosterFrame[] {
  const frames: PosterFrame[] = [];
  for (const line of text.split('\n')) {
    const time = /pts_time:(-?[0-9.]+)/.exec(line);
    if (time) frames.push({ seconds: Number(time[1]), meanLuma: Number.NaN });
    const luma = /lavfi\.signalstats\.YAVG=([0-9.]+)/.exec(line);
    if (luma && frames.length > 0) frames[frames.length - 1]!.meanLuma = Number(luma[1]);
  }
  return frames;
}

export function posterArgs(request: PosterRequest, location: string, limits: MediaLimits): string[] {
  // -copyts: the chosen frame's time is the source's own, told from its start below.
  const filters = [
    `thumbnail=n=${Math.max(1, Math.round(request.frames))}`,
    ...toneMapFilters(request.toneMap),
    `scale=${request.width}:${request.height}`,
    PRINT,
  ];
  return [
    ...COMMON,
    ...inputArgs(location, request.format, limits, ['-ss', request.at.toFixed(3), '-copyts']),
    ...['-map', '0:v:0', '-an', '-sn', '-dn', '-vf', filters.join(','), '-frames:v', '1', '-q:v', '3'],
    asFfmpegInput(request.output),
  ];
}

export function storyboardArgs(request: StoryboardRequest, location: string, limits: MediaLimits): string[] {
  // The first keyframe at or after each turn of the interval (selected_n counts the tiles so far).
  const filters = [
    `select='gte(t\\,selected_n*${request.intervalSeconds})'`,
    `scale=${request.tileWidth}:${request.tileHeight}`,
    ...toneMapFilters(request.toneMap),
    PRINT,
    `tile=${request.columns}x${request.rows}`,
  ];
  return [
    ...COMMON,
    ...inputArgs(location, request.format, limits, ['-skip_frame', 'nokey']),
    ...['-map', '0:v:0', '-an', '-sn', '-dn', '-vf', filters.join(','), '-frames:v', '1', '-q:v', '4'],
    asFfmpegInput(request.output),
  ];
}

/** Each picture's arguments, and its time limit: a poster run reads a few seconds, a storyboard the whole input (an hour's over HTTP: about a minute). */
const RUNS = {
  poster: { args: posterArgs, timeoutMs: 60_000 },
  storyboard: { args: storyboardArgs, timeoutMs: 600_000 },
};

/** Runs one picture's ffmpeg on the input (through its relay when it is a URL); its printed frames, at least one. */
export async function runPicture<W extends keyof typeof RUNS>(
  ffmpeg: string,
  what: W,
  request: Parameters<(typeof RUNS)[W]['args']>[0],
  limits: MediaLimits,
): Promise<PosterFrame[]> {
  const loopback = await loopbackFor(request.input);
  try {
    const args = (RUNS[what].args as (r: typeof request, location: string, l: MediaLimits) => string[])(request, loopback.location, limits);
    const result = await run(ffmpeg, args, limits, RUNS[what].timeoutMs, request.signal);
    if (outOfMemory(result, limits)) throw tooDemanding('ffmpeg', limits);
    if (result.timedOut) throw new PreviewFailed(`ffmpeg took too long making the ${what}`);
    const frames = parseFramePrint(result.stdout);
    if (result.code !== 0) throw new PreviewFailed(`ffmpeg could not make the ${what}: ${ffmpegCause(result.stderr)}`);
    if (frames.length === 0) throw new PreviewFailed(`ffmpeg found no picture for the ${what}`);
    return frames;
  } finally {
    await loopback.close();
  }
}
