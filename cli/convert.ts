// `lambda-hls convert <file>` on the embedded default: put the file in the local input bucket,
// run ConvertVideo on the local engine, record its history, and take the input's link away again.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { forEachChunk } from '../src/file-chunks';
import { basename, dirname, extname, resolve } from 'node:path';
import { CAPTION_EXTENSIONS, languageName, languageTag, sidecarKey, sidecarsOf, UNDETERMINED } from '../src/core/captions';
import { conversionFor } from '../src/core/conversion';
import type { ConversionOptions, ExecutionInput } from '../src/core/model';
import type { CaptionJson, RenditionJson } from './commands/contracts';
import { captionsOf, picturesOf, renditionsOf } from './commands/output';
import { localSourceKey, videoIdFor } from '../src/core/naming';
import { asNoSpace, Interrupted, NoSpace, oneLineCause } from '../src/core/errors';
import { readRouteTolerant } from '../src/registry/routes';
import { loadDefinition, runStateMachine, type LoadedDefinition } from './engine';
import {
  conversionNotes,
  executionStats,
  failedState,
  lastState,
  type ExecutionStats,
  type FailureSummary,
  type StoredEvent,
} from '../src/core/history';
import { compactEvent, ExecutionStore, type ExecutionRecord } from './executions';
import { thisProcess } from '../src/process-identity';
import { faultSetup, injectFaults, type FaultCounts, type FaultSetup } from '../src/adapters/local/faults';
import type { LocalBackend } from '../src/composition/backends/local';
import { bindSteps } from '../src/composition/steps';
import type { Ports } from '../src/ports';
import { checkIsFile, CliError } from './errors';
import { conversionProgress } from './progress';
import { startServer } from './server';

export interface ConvertOptions {
  backend: LocalBackend;
  options: ConversionOptions;
  /** Engine events as they happen, as stored in the history (progress display). */
  onEvent?: (event: StoredEvent) => void;
  /** How far into the input SegmentMedia's ffmpeg has got, as it goes. */
  onSegmenting?: (seconds: number, totalSeconds: number) => void;
  /** Faults for the steps' ports (default: LAMBDA_HLS_FAULTS and LAMBDA_HLS_FAULT_SEED), and where to count those that fired. */
  faults?: FaultSetup;
  faultCounts?: FaultCounts;
  /** Told when another process is converting this file, and this one waits for it (at most LAMBDA_HLS_LOCK_WAIT_SECONDS). */
  onWait?: (holderPid: number, lockPath: string) => void;
  /** Told when the file was converted before in another way (other content or options): this run's rendition replaces it. */
  onReplace?: (videoId: string, previousRevision: string) => void;
  /** Wrap the ports the steps see (fault injection in tests). */
  wrapPorts?: (ports: Ports) => Ports;
  retryDelayMs?: number;
  loaded?: LoadedDefinition;
  /** Ctrl-C, SIGTERM, SIGHUP: ffmpeg is stopped, its scratch removed, the execution left ABORTED. */
  signal?: AbortSignal;
  /** Caption files given with --captions, besides those found beside the file (`<name>.<language>.srt|vtt`). */
  captions?: string[];
}

/** A caption file and the key it gets beside the source in the input bucket (`<base>.<language>.<srt|vtt>`). */
interface CaptionLink {
  path: string;
  key: string;
}

/**
 * The caption files of a conversion: those beside the file (`lecture.en.srt` for `lecture.mp4`,
 * the extension in any case) and those given, each keyed beside the source as an upload beside it
 * would be — its language from its own name (`subs.de.vtt` → de), `und` when it names none.
 */
export function captionLinks(path: string, sourceKey: string, given: readonly string[]): CaptionLink[] {
  const folder = dirname(path);
  const beside = sidecarsOf(basename(path), readdirSync(folder)).map((c) => resolve(folder, c.file));
  const links = new Map<string, CaptionLink>();
  for (const file of [...beside, ...given.map((g) => resolve(g))]) {
    const name = basename(file);
    const format = CAPTION_EXTENSIONS[extname(name).toLowerCase()];
    if (!format) throw new CliError(`${name} is not a caption file: give a .srt or .vtt`);
    checkIsFile(file);
    const tag = /\.([^./]+)\.[^./]+$/.exec(name)?.[1];
    const language = (tag && languageTag(tag)) || UNDETERMINED;
    const key = sidecarKey(sourceKey, language, format);
    const other = links.get(key);
    if (other && realpathSync(other.path) !== realpathSync(file))
      throw new CliError(`${basename(other.path)} and ${name} are both ${languageName(language)} (${language}) captions: give one of them`);
    links.set(key, { path: file, key });
  }
  return [...links.values()];
}

export interface ConvertResult {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  videoId: string;
  executionName: string;
  playlist: string | null;
  segments: number;
  /** A ladder's rungs, their playlists where `playlist` is. */
  renditions?: RenditionJson[];
  /** The poster and the storyboard track, where `playlist` is. */
  poster?: string;
  storyboard?: string;
  /** The subtitle renditions, their playlists where `playlist` is. */
  captions?: CaptionJson[];
  /** True when an identical earlier conversion was found and nothing was run. */
  reused: boolean;
  /** Segments, packages, largest state payload and history events (AWS's count) of the run. */
  stats: ExecutionStats;
  /** How the source was encoded and why, once ValidateInput has decided. */
  encoding?: string;
  /** What the run did not honour or keep. */
  warnings: string[];
  error?: FailureSummary;
}

/** Free space a run needs to begin: its history record, the first segments' list. */
const MIN_FREE_BYTES = 1024 * 1024;

/** NoSpace when the home's disk has less than MIN_FREE_BYTES free (statfs), else undefined. */
function noRoomToStart(home: string): NoSpace | undefined {
  let free: number;
  try {
    const fs = statfsSync(existsSync(home) ? home : dirname(home));
    free = fs.bavail * fs.bsize;
  } catch {
    return undefined; // no statfs here: the writes themselves say so
  }
  if (free >= MIN_FREE_BYTES) return undefined;
  return new NoSpace(
    `no space left on the disk of the lambda-hls home (${free.toLocaleString('en-US')} bytes free; a run needs at least 1 MiB to begin): free some, then convert again`,
  );
}

/** The result of a run that failed without an execution's own outcome: one that could not begin (its execution name the one it would have had), or that the disk stopped. */
function failedResult(videoId: string, executionName: string, error: FailureSummary, events: StoredEvent[] = []): ConvertResult {
  return {
    status: 'FAILED',
    videoId,
    executionName,
    reused: false,
    playlist: null,
    segments: 0,
    stats: executionStats(events),
    ...conversionNotes(events),
    error,
  };
}

function notStarted(videoId: string, executionName: string, error: NoSpace): ConvertResult {
  return failedResult(videoId, executionName, { state: 'none (not started)', error: error.name, cause: error.message });
}

/** Identity, size and modification time of a file, to tell whether it changed between two looks. */
function fileState(path: string): string {
  const info = statSync(path, { throwIfNoEntry: false });
  return info ? `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}` : 'gone';
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await forEachChunk(path, (chunk) => hash.update(chunk));
  return hash.digest('hex');
}

export async function convertFile(file: string, options: ConvertOptions): Promise<ConvertResult> {
  const { backend } = options;
  const { settings } = backend;
  const faults = options.faults ?? faultSetup(settings.faults, settings.faultSeed);
  checkIsFile(file);
  const path = resolve(file);

  // The source key is the file name under its folder (as an upload to a folder of the input bucket
  // would be): converting the same file again replaces that video, a file of the same name from
  // another folder is another video. The revision is the content plus the options.
  const sourceKey = localSourceKey(await realpath(dirname(path)), basename(path));
  const scheme = { secret: settings.videoIdSecret, functionPrefix: settings.functionPrefix };
  const videoId = videoIdFor(sourceKey, scheme);
  // Named as an upload would be, with the content's hash as its version. The file is read in place
  // (not copied), so what it looked like when hashed is kept to tell whether it changed meanwhile.
  const read = fileState(path);
  // A file over the size limit is not read at all (hashing 12 GB takes most of a minute): it is
  // named by its state instead, and ValidateInput refuses it (InputTooLarge) before anything is made.
  const tooLarge = statSync(path).size > settings.maxInputBytes;
  const captions = captionLinks(path, sourceKey, options.captions ?? []);
  // The captions are part of what is converted: other captions make another revision.
  const captionHashes = await Promise.all(captions.map(async (c) => `${c.key}=${await sha256File(c.path)}`));
  const content = tooLarge ? `unread ${read}` : await sha256File(path);
  const version = captionHashes.length > 0 ? `${content} captions ${captionHashes.join(' ')}` : content;
  const { input, executionName: baseName } = conversionFor(sourceKey, version, options.options, scheme);
  const { revision } = input;
  const store = new ExecutionStore(settings.home);
  // A disk too full to hold even the lock and the history: nothing is started, and the result says why.
  const full = noRoomToStart(settings.home);
  if (full) return notStarted(videoId, baseName, full);

  // One conversion of a video at a time: a second `convert` of the same file waits for the
  // first, since both would use the same input key (and, for the same options, the same functions).
  const release = await store.lock(videoId, (holder, lockPath) => options.onWait?.(holder.pid, lockPath), {
    timeoutMs: settings.lockWaitSeconds * 1000,
    ...(options.signal && { signal: options.signal }),
  });
  try {
    if (options.signal?.aborted) throw new Interrupted(`stopped by ${String(options.signal.reason)} before it started`);
    // Converted already (by an earlier attempt, or by the run just waited for): nothing to do.
    const done = store.attempts(baseName).find((r) => r.status === 'SUCCEEDED');
    // A damaged record is replaced by this run's (RegisterRoute), so it is no reason to stop.
    const { route } = await readRouteTolerant(backend.objects, videoId);
    if (route && route.revision !== revision) options.onReplace?.(videoId, route.revision);
    if (done && route?.revision === revision) {
      return {
        status: 'SUCCEEDED',
        videoId,
        executionName: done.executionName,
        reused: true,
        playlist: backend.objects.pathOf('output', route.playlistKey),
        segments: route.segmentCount,
        ...renditionsOf(route, (r) => backend.objects.pathOf('output', r.playlistKey)),
        ...picturesOf(route, (key) => backend.objects.pathOf('output', key)),
        ...captionsOf(route, (key) => backend.objects.pathOf('output', key)),
        stats: executionStats(store.events(done.executionName)),
        ...conversionNotes(store.events(done.executionName)),
      };
    }
    const result = await execute({ backend, options, store, faults, path, sourceKey, videoId, baseName, input, captions });
    if (fileState(path) !== read) {
      result.warnings.push(
        `${basename(path)} changed while it was being converted: this rendition may mix old and new content; convert it again`,
      );
    }
    return result;
  } finally {
    release();
  }
}

interface Conversion {
  backend: LocalBackend;
  options: ConvertOptions;
  store: ExecutionStore;
  faults: FaultSetup;
  /** The user's file, and its key in the input bucket. */
  path: string;
  sourceKey: string;
  videoId: string;
  baseName: string;
  input: ExecutionInput;
  /** Caption files linked beside the source for the run. */
  captions: CaptionLink[];
}

/**
 * The ports with the media tool as this run drives it: SegmentMedia's ffmpeg position passed on to
 * `onSegmenting` (a local run's progress line), and ffprobe and ffmpeg stopped by `signal`.
 */
function withRunControls(ports: Ports, { onSegmenting, signal }: Pick<ConvertOptions, 'onSegmenting' | 'signal'>): Ports {
  if (!onSegmenting && !signal) return ports;
  const { media } = ports;
  // A run that reads the whole input: stopped by the signal, its position passed on.
  const followed = <R extends { durationSeconds: number; onProgress?: (seconds: number) => void }>(request: R): R => ({
    ...request,
    ...(signal && { signal }),
    onProgress: (seconds: number) => {
      request.onProgress?.(seconds);
      onSegmenting?.(seconds, request.durationSeconds);
    },
  });
  return {
    ...ports,
    media: {
      probe: (input, format) => media.probe(input, format, signal),
      segment: (request) => media.segment(followed(request)),
      // Chunks count as they finish (the Map's progress); the audio's ffmpeg shows its position.
      encodeChunk: (request) => media.encodeChunk({ ...request, ...(signal && { signal }) }),
      splitAudio: (request) => media.splitAudio(followed(request)),
      poster: (request) => media.poster({ ...request, ...(signal && { signal }) }),
      storyboard: (request) => media.storyboard({ ...request, ...(signal && { signal }) }),
      textTrack: (request) => media.textTrack({ ...request, ...(signal && { signal }) }),
      testClip: (path, seconds) => media.testClip(path, seconds),
    },
  };
}

/** One execution of ConvertVideo on the local engine, recorded in the history as it runs. */
async function execute(conversion: Conversion): Promise<ConvertResult> {
  const { backend, options, store, faults, path, sourceKey, videoId, baseName, input, captions } = conversion;
  const { revision } = input;
  const executionName = store.freshName(baseName);
  const record: ExecutionRecord = {
    executionName,
    videoId,
    revision,
    sourceKey,
    status: 'RUNNING',
    startedAt: new Date().toISOString(),
    pid: process.pid,
    ...(thisProcess().started && { processStarted: thisProcess().started }),
    input,
  };
  try {
    store.start(record);
  } catch (error) {
    // The disk filled since convert looked: nothing is started, and the result says why.
    if (error instanceof NoSpace) return notStarted(videoId, executionName, error);
    throw error;
  }
  // The events as they happened, also when the disk fills and the history cannot take them all.
  const events: StoredEvent[] = [];
  let historyFull: NoSpace | undefined;
  const finish = () => {
    try {
      store.finish(record);
    } catch (error) {
      historyFull ??= error instanceof NoSpace ? error : undefined;
      if (!historyFull) throw error;
    }
  };

  const server = await startServer({ backend });
  try {
    // The input bucket's object is the user's file itself (a link): read in place, never copied.
    await backend.objects.linkFile('input', sourceKey, path);
    // Its captions beside it, as files uploaded beside it would be (ValidateInput finds them there).
    for (const caption of captions) await backend.objects.linkFile('input', caption.key, caption.path);
    // LAMBDA_HLS_FAULTS: what the steps see may throttle, fail or stall; the CLI's own calls do not.
    const stepPorts = withRunControls(
      injectFaults(backend, faults, {
        counts: options.faultCounts,
        retry: options.retryDelayMs === 0 ? { baseMs: 0 } : {},
      }),
      options,
    );
    const loaded = options.loaded ?? loadDefinition();
    const progressOf = conversionProgress(loaded);
    const result = await runStateMachine({
      loaded,
      // retryDelayMs 0 (tests): the steps' own per-call retries are instant too.
      handlers: bindSteps(options.wrapPorts ? options.wrapPorts(stepPorts) : stepPorts, {
        ...backend.settings,
        // Nothing expires the local work bucket: segments leave it as soon as their package is stored.
        releaseStoredSegments: true,
        ...(options.retryDelayMs === 0 && { retry: { baseMs: 0 } }),
      }),
      input: input as never,
      executionName,
      retryDelayMs: options.retryDelayMs,
      ...(options.signal && { signal: options.signal }),
      onEvent: (event) => {
        const stored = compactEvent(event, progressOf);
        events.push(stored);
        if (!historyFull) {
          try {
            store.append(executionName, stored);
          } catch (error) {
            if (!(error instanceof NoSpace)) throw error;
            historyFull = error; // the run goes on, and fails by name at its next write
          }
        }
        options.onEvent?.(stored);
      },
    });
    record.status = result.status;
    record.stoppedAt = new Date().toISOString();
    if (result.status === 'SUCCEEDED') record.output = result.output;
    else if (result.status === 'ABORTED') {
      record.error = {
        state: lastState(events),
        error: 'Interrupted',
        cause: `stopped by ${String(options.signal?.reason ?? 'an interrupt')}`,
      };
    } else record.error = failedState(events);
    finish();

    const output = result.output as { playlistKey?: string; segmentCount?: number } | undefined;
    const route = result.status === 'SUCCEEDED' ? (await readRouteTolerant(backend.objects, videoId)).route : undefined;
    return {
      status: result.status,
      videoId,
      executionName,
      reused: false,
      playlist: output?.playlistKey ? backend.objects.pathOf('output', output.playlistKey) : null,
      segments: output?.segmentCount ?? 0,
      ...(route?.revision === revision && renditionsOf(route, (r) => backend.objects.pathOf('output', r.playlistKey))),
      ...(route?.revision === revision && picturesOf(route, (key) => backend.objects.pathOf('output', key))),
      ...(route?.revision === revision && captionsOf(route, (key) => backend.objects.pathOf('output', key))),
      stats: executionStats(events),
      ...conversionNotes(events),
      ...(historyFull && {
        warnings: [...conversionNotes(events).warnings, `the history of this run is incomplete: ${historyFull.message}`],
      }),
      ...(record.error && { error: record.error }),
    };
  } catch (error) {
    record.status = 'FAILED';
    record.stoppedAt = new Date().toISOString();
    const thrown = asNoSpace(error, 'the lambda-hls home') as Error;
    record.error = { state: lastState(events), error: thrown.name, cause: oneLineCause(thrown) };
    finish();
    if (thrown instanceof NoSpace) return failedResult(videoId, executionName, record.error, events);
    throw error;
  } finally {
    // The input bucket held a link for this run only; the user's own file was never touched.
    await backend.objects.delete('input', sourceKey).catch(() => undefined);
    for (const caption of captions) await backend.objects.delete('input', caption.key).catch(() => undefined);
    await server.close();
  }
}
