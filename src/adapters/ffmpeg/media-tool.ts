// MediaTool on ffmpeg/ffprobe binaries: those `npm run build:ffmpeg` built from Debian 12's
// maintained source when they are there, else the static 2018 ones shipped in npm packages (so
// `npm install` alone is enough), or any others through FFMPEG_PATH / FFPROBE_PATH (the Lambda
// layer sets them to /opt/bin/…). A URL input is opened through a relay on 127.0.0.1
// (./loopback.ts): the static binaries crash resolving host names.
//
// Whoever uploads chooses the bytes ffmpeg reads, so ffmpeg is kept to that one input: the demuxer
// is the one for the file's extension (never guessed from the content: a DASH manifest or an HLS
// playlist named .mp4 is not fetched), only the file's own protocol is allowed (a path, or the
// relay on 127.0.0.1), the mov demuxer's external references stay off, and every run has limits:
// memory for each process (its data segment, `ulimit -d`), ffprobe a time limit, ffmpeg a network
// timeout and a stall watchdog. An MP4's index is checked before ffprobe reads it (mp4-index.ts).
import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, readFileSync, statSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { earliestVideoPts } from '../../core/ts-continuity';
import { dirname, join } from 'node:path';
import { describeContent, SNIFF_BYTES } from '../../core/content';
import { Interrupted, MediaTooDemanding, NoSpace, NotMedia, SegmentationFailed, TruncatedInput } from '../../core/errors';
import type { ColourPlan, EncodingPlan, HdrTransfer, ProbeResult } from '../../core/model';
import type { MediaFormat } from '../../core/naming';
import { DEFAULT_MEDIA_MEMORY_MB, DEFAULT_SCRATCH_PENDING_BYTES } from '../../core/plan';
import type { AudioSplitRequest, ChunkRequest, MediaTool, SegmentFile, SegmentRequest, SegmentStream, SegmentTiming } from '../../ports';
import { checkMp4Index, type ReadAt } from '../../core/mp4-index';
import { readRange } from '../http-range';
import { loopbackFor, needsLoopback } from './loopback';

export interface Binaries {
  ffmpeg: string;
  ffprobe: string;
}

function packagedBinary(packageName: string): string {
  const found = require(packageName) as { path: string };
  return found.path;
}

/** npm ≥ 11 may skip the packages' chmod postinstall; make the binary runnable if we own it. */
function ensureExecutable(path: string): string {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    try {
      chmodSync(path, statSync(path).mode | 0o111);
    } catch {
      // not ours to change: spawning will report the real problem
    }
  }
  return path;
}

/** Binaries to run instead of the npm ones (FFMPEG_PATH, FFPROBE_PATH; the layer's /opt/bin in Lambda). */
export interface BinaryPaths {
  ffmpegPath?: string | undefined;
  ffprobePath?: string | undefined;
}

const PACKAGES = { ffmpeg: '@ffmpeg-installer/ffmpeg', ffprobe: '@ffprobe-installer/ffprobe' } as const;

/** Where `npm run build:ffmpeg` puts its build, under the package's root (scripts/build-ffmpeg.mjs). */
export const SOURCE_BUILD = join('layers', 'ffmpeg', 'source', 'bin');

let foundRoot: { dir: string | undefined } | undefined;

/** The package's root: the first folder up from here with lambda-hls's package.json (src/… or dist/); looked for once. */
function packageRoot(): string | undefined {
  foundRoot ??= { dir: searchPackageRoot() };
  return foundRoot.dir;
}

function searchPackageRoot(): string | undefined {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'lambda-hls') return dir;
    } catch {
      // no package.json here
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** The binary of `npm run build:ffmpeg` (Debian 12's maintained ffmpeg, built statically), when it was run. */
export function sourceBuilt(name: keyof Binaries): string | undefined {
  const root = packageRoot();
  const path = root && join(root, SOURCE_BUILD, name);
  return path && isFile(path) ? path : undefined;
}

/**
 * One binary: the path given, else the source build when there is one, else the static one from
 * npm (a 2018 build; resolved only now, when it is needed).
 */
export function resolveBinary(name: keyof Binaries, paths: BinaryPaths): string {
  return (
    (name === 'ffmpeg' ? paths.ffmpegPath : paths.ffprobePath) || sourceBuilt(name) || ensureExecutable(packagedBinary(PACKAGES[name]))
  );
}

export function resolveBinaries(paths: BinaryPaths): Binaries {
  return { ffmpeg: resolveBinary('ffmpeg', paths), ffprobe: resolveBinary('ffprobe', paths) };
}

/** How long ffmpeg and ffprobe may take; tests make them short. */
export interface MediaLimits {
  /** ffprobe is killed after this long (it reads a header and a few packets). */
  probeMs: number;
  /** ffmpeg is killed when its position in the input has not moved for this long (not counting pauses). */
  stallMs: number;
  /** A read from the network that gets no byte for this long fails (ffmpeg's rw_timeout). */
  networkMs: number;
  /**
   * Bytes of finished segments not yet taken before ffmpeg is paused (resumed at half): scratch
   * space holds these plus the segment being written.
   */
  pendingBytes: number;
  /** Each ffprobe and ffmpeg process's data segment (heap and private mappings), in MiB; 0 for none. */
  memoryMb: number;
}

export const DEFAULT_LIMITS: MediaLimits = {
  probeMs: 30_000,
  stallMs: 60_000,
  networkMs: 20_000,
  pendingBytes: DEFAULT_SCRATCH_PENDING_BYTES,
  memoryMb: DEFAULT_MEDIA_MEMORY_MB,
};

/** The shell that applies the memory limit (`ulimit -d`, then exec: the process is the tool's own). */
const SHELL = '/bin/sh';
let shellMissing: boolean | undefined;
let saidShellMissing = false;

/**
 * Starts a tool under its memory limit. Node cannot set a child's rlimits, so a shell does, then
 * replaces itself with the tool (same pid: signals, SIGSTOP and SIGKILL reach the tool itself).
 * Without /bin/sh the tool runs without the limit, which is said once on stderr.
 */
function spawnTool(binary: string, args: string[], limits: Pick<MediaLimits, 'memoryMb'>) {
  shellMissing ??= !isFile(SHELL);
  if (limits.memoryMb > 0 && shellMissing && !saidShellMissing) {
    process.stderr.write(`lambda-hls: ${SHELL} is missing: ffmpeg and ffprobe run without their memory limit\n`);
    saidShellMissing = true;
  }
  // A binary that cannot run is started directly, so its error (ENOENT, EACCES) is Node's own, not the shell's.
  if (limits.memoryMb <= 0 || shellMissing || !runnable(binary)) return spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return spawn(SHELL, ['-c', 'ulimit -d "$0" && exec "$@"', String(limits.memoryMb * 1024), binary, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function runnable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return isFile(path);
  } catch {
    return false;
  }
}

/**
 * Whether a run failed for want of memory under its limit: an allocation ffmpeg reports failing, or
 * a crash (SIGSEGV), which is what the static binaries do when one fails where they do not check.
 */
export function outOfMemory(result: { stderr: string; signal?: NodeJS.Signals | null }, limits: Pick<MediaLimits, 'memoryMb'>): boolean {
  if (limits.memoryMb <= 0) return false;
  return result.signal === 'SIGSEGV' || /Cannot allocate memory|malloc of size \d+ failed|out of memory/i.test(result.stderr);
}

function tooDemanding(tool: 'ffprobe' | 'ffmpeg', limits: Pick<MediaLimits, 'memoryMb'>): MediaTooDemanding {
  return new MediaTooDemanding(
    `${tool} needed more than its ${limits.memoryMb} MiB of memory (LAMBDA_HLS_MEDIA_MEMORY_MB) for this file: ` +
      'its headers or index are far larger than a video needs, or it needs a larger limit',
  );
}

const LABELS: Record<MediaFormat, string> = { mp4: 'MP4', mp3: 'MP3' };
/**
 * Demuxer options per format; for MP4 the mov demuxer, whose external data references stay off.
 * MPEG-TS is only ever our own: a chunk's audio, encoded by SegmentMedia.
 */
const DEMUXERS: Record<MediaFormat | 'mpegts', string[]> = {
  mp4: ['-f', 'mov', '-enable_drefs', '0'],
  mp3: ['-f', 'mp3'],
  mpegts: ['-f', 'mpegts'],
};

/**
 * Input options that keep ffmpeg and ffprobe to the one input they are given: the demuxer of its
 * format, and no protocol but its own — `file` for a path, `http` (over `tcp`) for the relay.
 * `options` are the input's own (a seek, a timestamp offset), placed before it.
 */
export function inputArgs(
  location: string,
  format: MediaFormat | 'mpegts',
  limits: MediaLimits = DEFAULT_LIMITS,
  options: string[] = [],
): string[] {
  const url = needsLoopback(location); // by now the relay's URL
  return [
    '-protocol_whitelist',
    url ? 'http,tcp' : 'file',
    ...(url ? ['-rw_timeout', String(limits.networkMs * 1000)] : []),
    ...DEMUXERS[format],
    ...options,
    '-i',
    url ? location : asFfmpegInput(location),
  ];
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed for running longer than allowed. */
  timedOut: boolean;
}

/** The error a run stopped by its signal ends with. */
function interrupted(signal: AbortSignal): Interrupted {
  return new Interrupted(`stopped by ${String(signal.reason ?? 'an interrupt')}`);
}

function run(
  binary: string,
  args: string[],
  limits: Pick<MediaLimits, 'memoryMb'>,
  timeoutMs?: number,
  signal?: AbortSignal,
): Promise<RunResult> {
  if (signal?.aborted) return Promise.reject(interrupted(signal));
  return new Promise((resolve, reject) => {
    const child = spawnTool(binary, args, limits);
    const stop = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', stop, { once: true });
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, timeoutMs);
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      err = keepTail(err, chunk);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      reject(new Error(`cannot run ${binary}: ${error.message}`));
    });
    child.on('close', (code, killedBy) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      if (signal?.aborted) reject(interrupted(signal));
      else resolve({ code, signal: killedBy, stdout: Buffer.concat(out).toString('utf8'), stderr: err, timedOut });
    });
  });
}

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
async function checkIndex(location: string): Promise<void> {
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
async function unreadable(location: string, format: MediaFormat, result: RunResult, limits: MediaLimits): Promise<Error> {
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

/** How much of a tool's error output is kept: ffmpeg can be chatty on long inputs, and the cause is near the end. */
const STDERR_TAIL = 8192;

/**
 * The last `STDERR_TAIL` characters of `text` + `chunk`, starting at a line: a tail cut mid-line
 * would make a cause of its fragment (`ile decoding stream…`).
 */
export function keepTail(text: string, chunk: Buffer | string, max = STDERR_TAIL): string {
  const all = text + chunk.toString();
  if (all.length <= max) return all;
  const cut = all.slice(-max);
  if (all[all.length - max - 1] === '\n') return cut;
  const newline = cut.indexOf('\n');
  return newline === -1 ? cut : cut.slice(newline + 1);
}

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? 'no message';
}

/** ffmpeg's summary lines, which say that it failed but not why. */
const GENERIC = [
  /^Conversion failed!?$/,
  /maybe incorrect parameters/,
  /^Error initializing output stream/,
  /^Error while opening encoder/,
];

/** The line of ffmpeg's errors that says why (`width not divisible by 2`), not only that it failed. */
export function ffmpegCause(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^\[[^\]]* @ 0x[0-9a-f]+\]\s*/, '').trim())
    .filter(Boolean);
  return lines.find((l) => !GENERIC.some((g) => g.test(l))) ?? lines[lines.length - 1] ?? 'no message';
}

/** ffmpeg reads "a:b.mp4" as protocol "a"; a file: prefix keeps local paths paths. */
function asFfmpegInput(location: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? location : `file:${location}`;
}

function parseRate(rate: unknown): number | undefined {
  if (typeof rate !== 'string') return undefined;
  const [num, den] = rate.split('/').map(Number);
  if (!num || !den) return undefined;
  return num / den;
}

interface FfprobeStream {
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
  tags?: { rotate?: string };
}

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

/**
 * HDR to SDR: to linear light (100 nits nominal peak), BT.2020 to BT.709 primaries, Hable's curve,
 * then BT.709's transfer and matrix in limited range — zimg (`zscale`) and `tonemap`, which the
 * layer's ffmpeg has.
 */
function toneMapFilters(transfer: HdrTransfer | undefined): string[] {
  if (!transfer) return [];
  const input = transfer === 'hlg' ? 'arib-std-b67' : 'smpte2084';
  return [
    `zscale=tin=${input}:pin=bt2020:min=bt2020nc:t=linear:npl=100`,
    'format=gbrpf32le',
    'zscale=p=bt709',
    'tonemap=tonemap=hable:desat=0',
    'zscale=t=bt709:m=bt709:r=tv',
  ];
}

/** Arguments every run starts with; -progress: ffmpeg's position, read for the progress line and the stall watchdog. */
const COMMON = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-progress', 'pipe:1', '-y'];

/** The scale filter's colour conversion: from the source's matrix and range to the output's limited-range YCbCr. */
function colourScale(colour: ColourPlan | undefined): string {
  if (!colour) return '';
  const from = colour.from.matrix === 'rgb' ? '' : `:in_color_matrix=${colour.from.matrix}`;
  return `${from}:out_color_matrix=${colour.to.matrix}:in_range=${colour.from.range}:out_range=tv`;
}

/** The output's colour in the H.264 stream (VUI), what a player reads it as: BT.709 after tone mapping, else the plan's. */
function colourTags(plan: EncodingPlan): string[] {
  const to: ColourPlan['to'] | undefined = plan.toneMap ? { matrix: 'bt709', primaries: 'bt709', transfer: 'bt709' } : plan.colour?.to;
  if (!to) return [];
  const space = { bt709: 'bt709', bt601: 'smpte170m', bt2020: 'bt2020nc' }[to.matrix];
  return ['-color_primaries', to.primaries, '-color_trc', to.transfer, '-colorspace', space, '-color_range', 'tv'];
}

/**
 * The picture's encoding, as the plan says. `filters` go first (a chunk's trim); ffmpeg turns a
 * rotated picture upright and starts where an edit list starts by itself when it decodes.
 */

function videoArgs(plan: EncodingPlan, keyframes: string[], filters: string[] = []): string[] {
  switch (plan.video) {
    case 'copy':
      // SPS and PPS before every keyframe, not only before IDRs (what the Annex B conversion alone
      // does): a segment starting at a keyframe that is no IDR still has its parameter sets.
      // ValidateInput transcodes open GOPs it sees; this keeps one it could not see to a few frames.
      return ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb,dump_extra=freq=keyframe'];
    case 'none':
      return ['-vn'];
    case 'h264':
      // 4:2:0 needs even sizes.
      return [
        '-vf',
        [
          ...filters,
          ...toneMapFilters(plan.toneMap),
          `scale=trunc(iw/2)*2:trunc(ih/2)*2${colourScale(plan.colour)}`,
          'format=yuv420p',
        ].join(','),
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '23',
        '-pix_fmt',
        'yuv420p',
        ...colourTags(plan),
        ...keyframes,
      ];
    case 'h264-360p':
      // The classic HLS rendition: 640x360, H.264 baseline 3.0, letterboxed to keep the aspect.
      return [
        '-vf',
        [
          ...filters,
          ...toneMapFilters(plan.toneMap),
          // The conversion to 4:2:0 happens in this scale, with the plan's matrices (not a default one later).
          `scale=640:360:force_original_aspect_ratio=decrease${colourScale(plan.colour)},format=yuv420p,pad=640:360:(ow-iw)/2:(oh-ih)/2,setsar=1`,
        ].join(','),
        ...colourTags(plan),
        '-c:v',
        'libx264',
        '-profile:v',
        'baseline',
        '-level',
        '3.0',
        '-preset',
        'veryfast',
        '-b:v',
        '800k',
        '-maxrate',
        '856k',
        '-bufsize',
        '1200k',
        '-pix_fmt',
        'yuv420p',
        ...keyframes,
      ];
  }
}

function audioArgs(plan: EncodingPlan): string[] {
  switch (plan.audio) {
    case 'copy':
      return ['-c:a', 'copy'];
    case 'aac':
      return ['-c:a', 'aac', '-b:a', plan.video === 'h264-360p' ? '96k' : '128k', '-ac', '2'];
    case 'none':
      return ['-an'];
  }
}

/** The segment muxer writing MPEG-TS files and their CSV list into `outDir`. */
/**
 * No cut at all: the segment muxer's own default is a cut every 2 s (its `segment_time`), which
 * split a one-chunk transcode's audio and kept only the first piece (0.85 s of a 5 s clip).
 */
const NO_CUTS = ['-segment_time', '1000000000'];

function segmentOutput(outDir: string, cuts: string[]): string[] {
  return [
    '-sn',
    '-dn',
    '-f',
    'segment',
    // One MPEG-TS muxer for the whole run (PAT/PMT still start every segment), so the continuity
    // counters go on from one segment to the next instead of starting at 0 in each (Apple 7.2).
    '-individual_header_trailer',
    '0',
    ...cuts,
    '-segment_format',
    'mpegts',
    '-segment_list',
    join(outDir, 'segments.csv'),
    '-segment_list_type',
    'csv',
    join(outDir, '%05d.ts'),
  ];
}

/** ffmpeg arguments that turn `input` into MPEG-TS segments as the plan says, in one run. */
export function segmentArgs(request: SegmentRequest, limits: MediaLimits = DEFAULT_LIMITS): string[] {
  const { plan, segmentSeconds, outDir } = request;
  return [
    ...COMMON,
    ...inputArgs(request.input, request.format, limits),
    ...(plan.video !== 'none' ? ['-map', '0:v:0'] : []),
    ...(plan.audio !== 'none' ? ['-map', '0:a:0'] : []),
    // A keyframe at every boundary when we encode, so segments are the length asked for.
    ...videoArgs(plan, ['-force_key_frames', `expr:gte(t,n_forced*${segmentSeconds})`]),
    ...audioArgs(plan),
    // No mux delay: the stream's timestamps are the segment list's timeline, so a segment's own
    // first presentation time (firstStart) reads on it directly.
    '-muxdelay',
    '0',
    '-muxpreload',
    '0',
    ...segmentOutput(outDir, ['-segment_time', String(segmentSeconds)]),
  ];
}

/** Apple HLS authoring 1.13: an IDR frame at least every 2 s, for seeking and (with a ladder) switching. */
export const KEYFRAME_SECONDS = 2;

/**
 * Where a chunk forces keyframes: at every segment boundary (each segment starts with an IDR) and
 * every KEYFRAME_SECONDS from there, so none is more than 2 s from the one before.
 */
export function keyframeTimes(start: number, seconds: number, segmentSeconds: number): number[] {
  const times: number[] = [];
  for (let segment = 0; segment * segmentSeconds < seconds; segment++) {
    const from = segment * segmentSeconds;
    const to = Math.min(seconds, from + segmentSeconds);
    for (let at = from; at < to - 1e-9; at += KEYFRAME_SECONDS) times.push(start + at);
  }
  return times;
}

/** Seconds as ffmpeg reads them, exactly (no exponent, no rounding beyond microseconds). */
function time(seconds: number): string {
  return String(Math.round(seconds * 1e6) / 1e6);
}

/**
 * Chunk and audio runs keep the input's timestamps (-copyts) and move them onto the output's
 * timeline themselves: output = source − its start + the timeline offset, as every chunk does.
 */
function timeline(request: Pick<ChunkRequest | AudioSplitRequest, 'timeOffset' | 'sourceStart'>): string[] {
  return ['-itsoffset', time(request.timeOffset - request.sourceStart)];
}

/**
 * One chunk of a transcode: the frames of [start, end) on the output's timeline, no more and no
 * fewer, keyframes forced at its segment boundaries (as listed times, which ffmpeg compares with
 * the frames' own timestamps), cut into segments at the same times, with the chunk's audio (encoded
 * once by SegmentMedia) copied beside it. The input is opened at the keyframe before `start`
 * (a seek: over HTTP, a ranged read), decoded from there, and trimmed exactly.
 */
export function chunkArgs(request: ChunkRequest, limits: MediaLimits = DEFAULT_LIMITS): string[] {
  const { plan, segmentSeconds, timeOffset } = request;
  const start = request.start + timeOffset;
  const end = request.end === undefined ? undefined : request.end + timeOffset;
  const boundaries = Array.from({ length: request.segmentCount }, (_, i) => time(start + i * segmentSeconds));
  const keyframes = keyframeTimes(start, request.segmentCount * segmentSeconds, segmentSeconds).map(time);
  const seek = request.start > 0 ? ['-ss', time(request.start)] : [];
  return [
    ...COMMON,
    '-copyts',
    ...inputArgs(request.input, request.format, limits, ['-noaccurate_seek', ...seek, ...timeline(request)]),
    ...(request.audio ? inputArgs(request.audio, 'mpegts', limits) : []),
    '-map',
    '0:v:0',
    ...(request.audio ? ['-map', '1:a:0', '-c:a', 'copy'] : ['-an']),
    // Every frame of the source once, at its own time: no frame rate imposed.
    '-vsync',
    'vfr',
    ...videoArgs(
      plan,
      ['-force_key_frames', keyframes.join(',')],
      [`trim=start=${time(start)}${end === undefined ? '' : `:end=${time(end)}`}`],
    ),
    ...segmentOutput(request.outDir, [
      ...(boundaries.length > 1 ? ['-segment_times', boundaries.slice(1).join(',')] : NO_CUTS),
      '-segment_start_number',
      String(request.firstSegment),
    ]),
  ];
}

/**
 * The audio track encoded (or copied) once for every chunk of a transcode, cut at the chunks'
 * starts into one MPEG-TS file each. Audio packets are cut whole, so each chunk gets exactly its
 * own run of one continuous encoding: no priming or gap at a chunk's edge. No mux delay: its
 * timestamps are the output's timeline itself.
 */
export function audioSplitArgs(request: AudioSplitRequest, limits: MediaLimits = DEFAULT_LIMITS): string[] {
  const cuts = request.cuts.map((cut) => time(cut + request.timeOffset));
  return [
    ...COMMON,
    '-copyts',
    ...inputArgs(request.input, request.format, limits, timeline(request)),
    '-map',
    '0:a:0',
    '-vn',
    ...audioArgs(request.plan),
    '-muxdelay',
    '0',
    '-muxpreload',
    '0',
    ...segmentOutput(request.outDir, cuts.length > 0 ? ['-segment_times', cuts.join(',')] : NO_CUTS),
  ];
}

/** The segment muxer's CSV list: `file,start,end` per segment, times in seconds. */
export function parseSegmentList(csv: string): { file: string; start: number; end: number }[] {
  return csv
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const match = /^(.*),([\d.]+),([\d.]+)$/.exec(line);
      if (!match) throw new SegmentationFailed(`unexpected line in ffmpeg's segment list: ${line}`);
      return { file: match[1]!.replace(/^"|"$/g, ''), start: Number(match[2]), end: Number(match[3]) };
    });
}

/** The first video stream's packets in its first GOP_SCAN_SECONDS: presentation time, decoding time, flags, one per line. */
const GOP_SCAN_SECONDS = 30;
const GOP_SCAN = [
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

/** The media tool on ffmpeg and ffprobe; each binary is looked up when first run, so a step that only probes never needs ffmpeg. */
export function ffmpegMediaTool(paths: BinaryPaths = {}, limits: MediaLimits = DEFAULT_LIMITS): MediaTool {
  const binaries: Partial<Binaries> = {};
  const binary = (name: keyof Binaries) => (binaries[name] ??= resolveBinary(name, paths));
  return {
    async probe(input, format, signal) {
      const loopback = await loopbackFor(input);
      try {
        if (format === 'mp4') await checkIndex(input);
        const result = await run(
          binary('ffprobe'),
          [...inputArgs(loopback.location, format, limits), '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams'],
          limits,
          limits.probeMs,
          signal,
        );
        let probe: ProbeResult | undefined;
        if (result.code === 0) {
          try {
            probe = parseProbe(result.stdout);
          } catch {
            throw new NotMedia('ffprobe returned no usable description of the file');
          }
        }
        // The mp3 demuxer takes anything for a stream: without one real frame it has no rate.
        const readable = probe && (format !== 'mp3' || (probe.audio?.sampleRate ?? 0) > 0);
        if (!readable) throw await unreadable(loopback.location, format, result, limits);
        // Only an H.264 picture may be copied: whether its segments would stand alone is read from its packets.
        if (probe!.video?.codec === 'h264') {
          const packets = await run(
            binary('ffprobe'),
            [...inputArgs(loopback.location, format, limits), ...GOP_SCAN],
            limits,
            limits.probeMs,
            signal,
          );
          if (packets.code === 0) probe!.video.openGop = hasLeadingPictures(packets.stdout);
        }
        return probe!;
      } finally {
        await loopback.close();
      }
    },

    async segment(request) {
      // A copied picture's first segment starts where its first frame shows (the list says 0).
      const firstStart = request.plan.video === 'copy' ? async (path: string) => earliestVideoPts(await leadingPackets(path)) : undefined;
      return runThroughLoopbacks([request.input], ([input]) =>
        streamSegments(binary('ffmpeg'), segmentArgs({ ...request, input: input! }, limits), { ...request, firstStart }, limits),
      );
    },

    async encodeChunk(request) {
      const inputs = request.audio ? [request.input, request.audio] : [request.input];
      // Back on the 0-based timeline; the list's first start is where the muxer began (0), the chunk's is its own.
      const place = (entry: SegmentListEntry, position: number) => {
        const start = position === 0 ? request.start : entry.start - request.timeOffset;
        return { index: request.firstSegment + position, start, duration: Math.max(0, entry.end - request.timeOffset - start) };
      };
      return runThroughLoopbacks(inputs, ([input, audio]) =>
        streamSegments(binary('ffmpeg'), chunkArgs({ ...request, input: input!, audio }, limits), { ...request, place }, limits),
      );
    },

    async splitAudio(request) {
      // ffmpeg's position is on the output's timeline; progress counts from the source's start.
      const { onProgress } = request;
      const progress = onProgress && ((seconds: number) => onProgress(Math.max(0, seconds - request.timeOffset)));
      return runThroughLoopbacks([request.input], ([input]) =>
        streamSegments(
          binary('ffmpeg'),
          audioSplitArgs({ ...request, input: input! }, limits),
          { ...request, onProgress: progress },
          limits,
        ),
      );
    },

    async testClip(path, seconds) {
      const result = await run(
        binary('ffmpeg'),
        [
          '-hide_banner',
          '-loglevel',
          'error',
          '-nostdin',
          '-y',
          '-f',
          'lavfi',
          '-i',
          'testsrc2=size=1280x720:rate=25',
          '-f',
          'lavfi',
          '-i',
          'sine=frequency=440:sample_rate=48000',
          '-t',
          String(seconds),
          '-c:v',
          'libx264',
          '-preset',
          'veryfast',
          '-g',
          '50',
          '-pix_fmt',
          'yuv420p',
          '-c:a',
          'aac',
          '-b:a',
          '96k',
          '-ac',
          '2',
          '-shortest',
          asFfmpegInput(path),
        ],
        limits,
      );
      if (result.code !== 0) throw new Error(`ffmpeg could not make the test clip: ${lastLine(result.stderr)}`);
    },
  };
}

/**
 * Opens each input through its relay (./loopback.ts) for one ffmpeg run whose segments are streamed;
 * the relays close when the stream ends or fails to start.
 */
async function runThroughLoopbacks(inputs: string[], start: (locations: string[]) => Promise<SegmentStream>): Promise<SegmentStream> {
  const loopbacks: Awaited<ReturnType<typeof loopbackFor>>[] = [];
  const close = () => Promise.all(loopbacks.map((l) => l.close()));
  try {
    for (const input of inputs) loopbacks.push(await loopbackFor(input));
    const segments = await start(loopbacks.map((l) => l.location));
    const closing = (async function* () {
      try {
        yield* segments;
      } finally {
        await close();
      }
    })();
    return Object.assign(closing, { timing: segments.timing });
  } catch (error) {
    await close();
    throw error;
  }
}

const POLL_MS = 50;

type SegmentListEntry = ReturnType<typeof parseSegmentList>[number];

/** What a run's stream needs besides ffmpeg's arguments. */
/** The first frames' worth of a segment (its first 8 MB, whole packets): enough for the first GOP's reordering. */
async function leadingPackets(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(8 * 1024 * 1024 - ((8 * 1024 * 1024) % 188));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead - (bytesRead % 188));
  } finally {
    await handle.close();
  }
}

interface StreamOptions {
  outDir: string;
  onProgress?: ((seconds: number) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** A listed file's index, start and duration (default: its position, and the list's own times). */
  place?: (entry: SegmentListEntry, position: number) => Pick<SegmentFile, 'index' | 'start' | 'duration'>;
  /**
   * Where the first segment's picture really starts, read from its bytes: the segment muxer lists
   * the first segment from 0, though a copy with B-frames shows its first frame a decoding delay
   * later (its first EXTINF was 4.066667 for 120 frames at 30 fps).
   */
  firstStart?: (path: string) => Promise<number | undefined>;
}

const listed = (entry: SegmentListEntry, position: number) => ({
  index: position,
  start: entry.start,
  duration: Math.max(0, entry.end - entry.start),
});

/**
 * Runs the segment muxer and hands over each segment once ffmpeg lists it in its CSV (it does so
 * when the segment is closed). ffmpeg keeps cutting while the caller uploads, but when
 * `limits.pendingBytes` of segments are waiting it is paused (SIGSTOP) until the caller has taken
 * half of them (SIGCONT). If the caller stops early, ffmpeg is killed.
 */
async function streamSegments(ffmpeg: string, args: string[], request: StreamOptions, limits: MediaLimits): Promise<SegmentStream> {
  const startedAt = performance.now();
  const place = request.place ?? listed;
  const child = spawnTool(ffmpeg, args, limits);
  let stderr = '';
  // The mov demuxer says "partial file" when the index lists media past the end of the file.
  let cutShort = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = keepTail(stderr, chunk);
    cutShort ||= /: partial file\s*$/m.test(stderr);
  });
  // -progress pipe:1: `key=value` lines; out_time_us is how far into the input ffmpeg has got.
  let position = 0;
  let movedAt = Date.now();
  let progressTail = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (progressTail + chunk.toString('utf8')).split('\n');
    progressTail = lines.pop() ?? '';
    for (const line of lines) {
      const match = /^out_time_(?:us|ms)=(\d+)/.exec(line);
      const seconds = match ? Number(match[1]) / 1e6 : Number.NaN;
      if (seconds > position) {
        position = seconds;
        movedAt = Date.now();
        request.onProgress?.(position);
      }
    }
  });
  let endedAt: number | undefined;
  let killedBy: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (error) => reject(new SegmentationFailed(`cannot run ${ffmpeg}: ${error.message}`)));
    child.on('close', (code, signal) => {
      endedAt = performance.now();
      killedBy = signal;
      resolve(code);
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(new SegmentationFailed(`cannot run ${ffmpeg}: ${error.message}`)));
  });
  const listPath = join(request.outDir, 'segments.csv');
  const queue: SegmentFile[] = [];
  let queuedBytes = 0;
  let count = 0;
  let listBytes = 0; // how much of the CSV has been read
  let partial = '';
  /** Listed segments not yet known to be whole (see poll). */
  const held: SegmentListEntry[] = [];
  let running = true;
  let paused = false;
  let pausedAt = 0;
  let pausedMs = 0;
  const pause = (on: boolean) => {
    if (!running || paused === on) return;
    paused = on;
    child.kill(on ? 'SIGSTOP' : 'SIGCONT');
    if (on) pausedAt = performance.now();
    else pausedMs += performance.now() - pausedAt;
    movedAt = Date.now(); // a pause is ours, not a stall
  };
  // The caller, when it has taken every listed segment, waits for the next to be listed.
  let listedSignal: (() => void) | undefined;
  // Stopped on purpose: resumed first (a stopped process acts on no signal but SIGKILL), asked to
  // quit, and killed if it has not within a second.
  const { signal } = request;
  let killTimer: NodeJS.Timeout | undefined;
  const stopOnAbort = () => {
    if (!running) return;
    pause(false);
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), 1000);
  };
  if (signal?.aborted) stopOnAbort();
  signal?.addEventListener('abort', stopOnAbort, { once: true });
  // A hung input (a read that never returns, a demuxer in a loop) must not hang the step.
  let stalled = false;
  const watchdog = () => {
    if (running && !paused && Date.now() - movedAt > limits.stallMs) {
      stalled = true;
      child.kill('SIGKILL');
    }
  };
  void exited.then(
    () => (running = false),
    () => (running = false),
  );

  /** Reads the lines ffmpeg has added to its list since the last look. */
  const poll = async () => {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(listPath, 'r');
    } catch {
      return; // not written yet
    }
    try {
      const done = !running;
      const { size } = await handle.stat();
      if (size > listBytes) {
        const fresh = Buffer.alloc(size - listBytes);
        await handle.read(fresh, 0, fresh.length, listBytes);
        listBytes = size;
        const text = partial + fresh.toString('utf8');
        partial = text.slice(text.lastIndexOf('\n') + 1);
        held.push(...parseSegmentList(text.slice(0, text.length - partial.length)));
      }
      // ffmpeg's segment muxer lists a segment before it closes the segment's file (its last bytes
      // may still be in ffmpeg's buffer): the newest entry is whole once a later one is listed, or
      // once ffmpeg has exited.
      const whole = done ? held.splice(0) : held.splice(0, Math.max(0, held.length - 1));
      for (const entry of whole) {
        const path = join(request.outDir, entry.file);
        const { size: bytes } = await stat(path);
        let placed = place(entry, count);
        const first = count === 0 && request.firstStart ? await request.firstStart(path) : undefined;
        if (first !== undefined && first > placed.start && first < entry.end)
          placed = { ...placed, start: first, duration: entry.end - first };
        count++;
        queue.push({ ...placed, path, bytes });
        queuedBytes += bytes;
      }
      listedSignal?.();
    } finally {
      await handle.close();
    }
    if (queuedBytes >= limits.pendingBytes) pause(true);
  };
  // Looks in the background, so ffmpeg is paused even while the caller is busy with a segment.
  let polling: Promise<void> | undefined;
  let pollError: unknown;
  const tick = () => {
    polling ??= poll()
      .catch((error: unknown) => {
        pollError = error;
        listedSignal?.();
      })
      .finally(() => {
        polling = undefined;
      });
    return polling;
  };
  const timer = setInterval(() => {
    watchdog();
    void tick();
  }, POLL_MS);

  async function* segments(): AsyncGenerator<SegmentFile> {
    try {
      for (;;) {
        if (signal?.aborted) throw interrupted(signal);
        if (pollError) throw pollError;
        if (queue.length === 0) {
          if (!running) {
            await polling;
            await tick(); // the last segment is listed as ffmpeg closes
            if (pollError) throw pollError;
            if (queue.length === 0) break;
            continue;
          }
          await Promise.race([
            exited.catch(() => null),
            new Promise<void>((resolve) => {
              listedSignal = resolve;
            }),
          ]);
          listedSignal = undefined;
          continue;
        }
        const next = queue.shift()!;
        queuedBytes -= next.bytes;
        if (queuedBytes < limits.pendingBytes / 2) pause(false);
        yield next;
      }
      const code = await exited;
      if (signal?.aborted) throw interrupted(signal);
      if (stalled) {
        throw new SegmentationFailed(
          `ffmpeg stopped making progress at ${position.toFixed(1)} s of the input and was stopped after ${limits.stallMs / 1000} s`,
        );
      }
      if (code !== 0 && outOfMemory({ stderr, signal: killedBy }, limits)) throw tooDemanding('ffmpeg', limits);
      // The scratch folder's disk (locally the home's, in Lambda /tmp) filled while ffmpeg wrote.
      if (/No space left on device/i.test(stderr)) {
        throw new NoSpace(
          "no space left on the disk of ffmpeg's scratch folder (locally the lambda-hls home's, deployed the function's ephemeral storage): free some, then convert again",
        );
      }
      if (code !== 0) throw new SegmentationFailed(`ffmpeg could not segment the file: ${ffmpegCause(stderr)}`);
      if (cutShort) throw new TruncatedInput('ffmpeg found the media cut short (partial file)');
      if (count === 0) throw new SegmentationFailed('ffmpeg wrote no segments: is the file empty of frames?');
    } finally {
      clearInterval(timer);
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', stopOnAbort);
      if (running) {
        pause(false);
        child.kill('SIGKILL');
        await exited.catch(() => undefined);
      }
      await polling;
    }
  }
  const stream: SegmentStream = Object.assign(segments(), {
    timing: (): SegmentTiming => ({
      seconds: ((endedAt ?? performance.now()) - startedAt) / 1000,
      pausedSeconds: (pausedMs + (paused ? performance.now() - pausedAt : 0)) / 1000,
    }),
  });
  return stream;
}
