// ffmpeg and ffprobe as processes: started under their memory limit, run to their end or their
// time limit, their error output kept and read for the cause; a segmenting run supervised while
// it writes (its list read as it grows, paused when too much waits, a stall watchdog, stopped on
// an abort).
import { spawn } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Interrupted, MediaTooDemanding, NoSpace, SegmentationFailed, TruncatedInput } from '../../core/errors';
import { DEFAULT_MEDIA_MEMORY_MB, DEFAULT_SCRATCH_PENDING_BYTES } from '../../core/media-limits';
import type { SegmentFile, SegmentStream, SegmentTiming } from '../../ports';
import { isFile, runnable } from './binaries';
import { loopbackFor } from './loopback';

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

/**
 * Whether a run failed for want of memory under its limit: an allocation ffmpeg reports failing, or
 * a crash (SIGSEGV), which is what the static binaries do when one fails where they do not check.
 */
export function outOfMemory(result: { stderr: string; signal?: NodeJS.Signals | null }, limits: Pick<MediaLimits, 'memoryMb'>): boolean {
  if (limits.memoryMb <= 0) return false;
  return result.signal === 'SIGSEGV' || /Cannot allocate memory|malloc of size \d+ failed|out of memory/i.test(result.stderr);
}

export function tooDemanding(tool: 'ffprobe' | 'ffmpeg', limits: Pick<MediaLimits, 'memoryMb'>): MediaTooDemanding {
  return new MediaTooDemanding(
    `${tool} needed more than its ${limits.memoryMb} MiB of memory (LAMBDA_HLS_MEDIA_MEMORY_MB) for this file: ` +
      'its headers or index are far larger than a video needs, or it needs a larger limit',
  );
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed for running longer than allowed. */
  timedOut: boolean;
}

/** The error a run stopped by its signal ends with. */
export function interrupted(signal: AbortSignal): Interrupted {
  return new Interrupted(`stopped by ${String(signal.reason ?? 'an interrupt')}`);
}

export function run(
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

export function lastLine(text: string): string {
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

/**
 * Opens each input through its relay (./loopback.ts) for one ffmpeg run whose segments are streamed;
 * the relays close when the stream ends or fails to start.
 */
export async function runThroughLoopbacks(
  inputs: string[],
  start: (locations: string[]) => Promise<SegmentStream>,
): Promise<SegmentStream> {
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

export type SegmentListEntry = ReturnType<typeof parseSegmentList>[number];

/** What a run's stream needs besides ffmpeg's arguments. */
export interface StreamOptions {
  outDir: string;
  /**
   * The run's segment muxers, each writing its segments and its `segments.csv` in its own folder
   * (a ladder's rungs); unset, one, in `outDir`. A file is handed over with its output's name.
   */
  outputs?: { dir: string; rendition?: string }[];
  onProgress?: ((seconds: number) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** A listed file's index, start and duration (default: its position in its list, and the list's own times). */
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
export async function streamSegments(ffmpeg: string, args: string[], request: StreamOptions, limits: MediaLimits): Promise<SegmentStream> {
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
  const lists = (request.outputs ?? [{ dir: request.outDir }]).map((output) => ({
    ...output,
    path: join(output.dir, 'segments.csv'),
    count: 0,
    listBytes: 0, // how much of the CSV has been read
    partial: '',
    /** Listed segments not yet known to be whole (see poll). */
    held: [] as SegmentListEntry[],
  }));
  const queue: SegmentFile[] = [];
  let queuedBytes = 0;
  let count = 0;
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

  /** Reads the lines ffmpeg has added to one list since the last look. */
  const pollList = async (list: (typeof lists)[number]) => {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(list.path, 'r');
    } catch {
      return; // not written yet
    }
    try {
      const done = !running;
      const { size } = await handle.stat();
      if (size > list.listBytes) {
        const fresh = Buffer.alloc(size - list.listBytes);
        await handle.read(fresh, 0, fresh.length, list.listBytes);
        list.listBytes = size;
        const text = list.partial + fresh.toString('utf8');
        list.partial = text.slice(text.lastIndexOf('\n') + 1);
        list.held.push(...parseSegmentList(text.slice(0, text.length - list.partial.length)));
      }
      // ffmpeg's segment muxer lists a segment before it closes the segment's file (its last bytes
      // may still be in ffmpeg's buffer): the newest entry is whole once a later one is listed, or
      // once ffmpeg has exited.
      const whole = done ? list.held.splice(0) : list.held.splice(0, Math.max(0, list.held.length - 1));
      for (const entry of whole) {
        const path = join(list.dir, entry.file);
        const { size: bytes } = await stat(path);
        let placed = place(entry, list.count);
        const first = list.count === 0 && request.firstStart ? await request.firstStart(path) : undefined;
        if (first !== undefined && first > placed.start && first < entry.end)
          placed = { ...placed, start: first, duration: entry.end - first };
        list.count++;
        count++;
        queue.push({ ...placed, ...(list.rendition !== undefined && { rendition: list.rendition }), path, bytes });
        queuedBytes += bytes;
      }
    } finally {
      await handle.close();
    }
  };
  const poll = async () => {
    for (const list of lists) await pollList(list);
    listedSignal?.();
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
