// What decoders we did not write (Debian's ffmpeg and ffprobe) make of the bytes a viewer gets:
// the e2e tests judge the output by these, never by what our own code says it wrote.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { buildCli } from './cli';
import { tempDir } from './fixtures';
import { PLAYER } from './player';

export const run = promisify(execFile);
export const DECODER = join(dirname(PLAYER), 'ffmpeg');

/** Fails a test file's set-up, with the fix, when Debian's ffmpeg and ffprobe are missing. */
export function requireDecoders(what: string): void {
  if (!existsSync(PLAYER) || !existsSync(DECODER)) throw new Error(`${what} needs ${PLAYER} and ${DECODER}: apt-get install ffmpeg`);
}

/**
 * An e2e file's set-up for checks by these decoders: the CLI built, the decoders found, and a
 * LAMBDA_HLS_HOME and a folder for media made (`name` in their names), filled in before its tests.
 */
export function decoderScratch(name: string, what: string): { home: string; dir: string } {
  const scratch = { home: '', dir: '' };
  beforeAll(() => {
    expect(buildCli()).toBe(true);
    requireDecoders(what);
    scratch.home = tempDir(`e2e-${name}-home`);
    scratch.dir = tempDir(`e2e-${name}-media`);
  });
  return scratch;
}

export async function lines(command: string, args: string[]): Promise<string[]> {
  const { stdout } = await run(command, args, { maxBuffer: 1 << 28, timeout: 120_000 });
  return stdout.split('\n').filter(Boolean);
}

/** The MPEG-TS continuity errors Debian's ffmpeg reports reading a file (none in one valid transport stream). */
export async function continuityFailures(file: string): Promise<string[]> {
  const { stderr } = await run(DECODER, ['-v', 'debug', '-i', file, '-map', '0', '-c', 'copy', '-f', 'null', '-'], {
    maxBuffer: 1 << 28,
    timeout: 120_000,
  });
  return stderr.split('\n').filter((line) => /Continuity check failed/.test(line));
}

/** Seconds of sound a decoder we did not write gets from a file (mono at the stream's rate, so no resampling rounds it). */
export async function soundSeconds(file: string): Promise<number> {
  const [rate] = await lines(PLAYER, [
    '-v',
    'error',
    '-select_streams',
    'a:0',
    '-show_entries',
    'stream=sample_rate',
    '-of',
    'csv=p=0',
    file,
  ]);
  const { stdout } = await run(DECODER, ['-v', 'error', '-i', file, '-map', '0:a:0', '-f', 's16le', '-ac', '1', '-'], {
    encoding: 'buffer',
    maxBuffer: 1 << 30,
    timeout: 120_000,
  });
  // The row ends with a comma where the stream has side data (AC-3's downmix levels): the first field is the rate.
  return Buffer.from(stdout).length / 2 / Number.parseInt(rate ?? '', 10);
}

/**
 * Whether a stream's sound is the source's, whole: MPEG-TS cannot say "skip the encoder's priming"
 * as MP4's edit list does, so a decoder plays the 1,024 priming samples of the AAC the stream holds
 * (copied or encoded here), and an encoder pads the last frame — the stream's sound is the source's
 * and up to two AAC frames more, never less (half a frame of rounding).
 */
export async function soundIsWhole(stream: string, source: string, rate: number): Promise<{ extra: number; whole: boolean }> {
  const frame = 1024 / rate;
  const extra = (await soundSeconds(stream)) - (await soundSeconds(source));
  return { extra: Math.round(extra * 1000) / 1000, whole: extra >= -frame / 2 && extra <= 2 * frame };
}

/** Frames Debian's ffmpeg decodes from a file's first video stream, and the errors it reports on the way. */
export async function decoded(file: string): Promise<{ frames: number; errors: string[] }> {
  // A file it cannot decode at all ends it with an error: its messages are the answer, not a failure of the check.
  const { stderr } = await run(DECODER, ['-hide_banner', '-v', 'error', '-stats', '-i', file, '-map', '0:v:0', '-f', 'null', '-'], {
    maxBuffer: 1 << 28,
    timeout: 120_000,
  }).catch((error: { stderr?: string }) => {
    if (typeof error.stderr !== 'string') throw error;
    return { stderr: error.stderr };
  });
  const stats = stderr.split(/[\r\n]/).filter((line) => /^frame=/.test(line));
  const frames = Number(/^frame=\s*(\d+)/.exec(stats.at(-1) ?? '')?.[1] ?? 0);
  const errors = stderr.split(/[\r\n]/).filter((line) => line.trim() && !/^frame=/.test(line));
  return { frames, errors };
}

/**
 * Each segment decoded on its own, as a player that seeks to it or switches to it starts: written
 * to `dir` and decoded from its first byte with nothing before it.
 */
export async function segmentsAlone(segments: Buffer[], dir: string): Promise<{ frames: number; errors: string[] }[]> {
  const results: { frames: number; errors: string[] }[] = [];
  for (const [n, bytes] of segments.entries()) {
    const file = join(dir, `alone-${n}.ts`);
    writeFileSync(file, bytes);
    results.push(await decoded(file));
  }
  return results;
}

export interface Tags {
  matrix?: string;
  range?: string;
  primaries?: string;
  transfer?: string;
}

/** The colour a file's video stream is tagged with, as a player reads it. */
export async function tagsOf(file: string): Promise<Tags> {
  const { stdout } = await run(PLAYER, [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=color_space,color_range,color_primaries,color_transfer'],
    ...['-of', 'json', file],
  ]);
  const stream = (JSON.parse(stdout) as { streams: Record<string, string>[] }).streams[0] ?? {};
  const known = (v: string | undefined) => (v && v !== 'unknown' ? v : undefined);
  return {
    ...(known(stream.color_space) && { matrix: stream.color_space }),
    ...(known(stream.color_range) && { range: stream.color_range }),
    ...(known(stream.color_primaries) && { primaries: stream.color_primaries }),
    ...(known(stream.color_transfer) && { transfer: stream.color_transfer }),
  };
}

/** The scale filter's name for a stream's matrix. */
export const SCALE_MATRIX: Record<string, string> = {
  bt709: 'bt709',
  smpte170m: 'bt601',
  bt470bg: 'bt601',
  bt2020nc: 'bt2020',
  gbr: 'bt709',
};

/** The matrix and range a player decodes a file's picture with: its tags, untagged as BT.601 limited range. */
export function readingOf(tags: Tags): { matrix: string; range: string } {
  return { matrix: SCALE_MATRIX[tags.matrix ?? 'smpte170m']!, range: tags.range ?? 'tv' };
}

/**
 * PSNR (dB, all planes) of a file decoded to RGB with this matrix and range, against the true
 * picture: `truth`, a lavfi source (with any filters: a turn for a rotated clip). `as420`: first
 * made 8-bit 4:2:0 in its own matrix (what any H.264 rendition for players must be), so a 4:2:2 or
 * 10-bit source is held to what it can give.
 */
export async function psnr(file: string, truth: string, reading: { matrix: string; range: string }, as420 = false): Promise<number> {
  const { matrix, range } = reading;
  const to420 = as420
    ? `,scale=out_color_matrix=${matrix}:out_range=tv,format=yuv420p,scale=in_color_matrix=${matrix}:in_range=tv,format=rgb24`
    : '';
  const graph = `[0:v]setpts=PTS-STARTPTS,scale=in_color_matrix=${matrix}:in_range=${range},format=rgb24${to420}[a];[1:v]setpts=PTS-STARTPTS,format=rgb24[b];[a][b]psnr`;
  const { stderr } = await run(DECODER, ['-hide_banner', '-i', file, '-f', 'lavfi', '-i', truth, '-lavfi', graph, '-f', 'null', '-'], {
    maxBuffer: 1 << 26,
    timeout: 120_000,
  });
  const average = /PSNR .*average:([\d.]+|inf)/.exec(stderr)?.[1];
  if (!average) throw new Error(`no PSNR for ${file}: ${stderr.slice(-500)}`);
  return Number(average);
}
