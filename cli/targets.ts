// Where a command works: the embedded default (local backend, local engine, histories on disk) or
// a deployed stage (`--stage <name>`: the aws backend, executions in Step Functions). Both have one
// shape, so no command branches on --stage.
import type { StartOutcome } from '../src/steps/start-conversion';
import type { FailedUploadsQueue } from '../src/adapters/aws/failed-uploads';
import { localBackend, type LocalBackend } from '../src/composition/backends/local';
import { settings } from '../src/composition/settings';
import {
  executionStats,
  failedState,
  summarizeStates,
  type ExecutionStats,
  type FailureSummary,
  type StateSummary,
  type StoredEvent,
} from '../src/core/history';
import type { ConversionOptions, RenditionPlaylist, RouteRecord } from '../src/core/model';
import { videoIdFor } from '../src/core/naming';
import { captionsOf, picturesOf } from './commands/output';
import type { CaptionJson } from './commands/contracts';
import { deleteVideo, type OwnedStores, type Removed } from '../src/registry/deletion';
import type { Leftovers, RunningExecutions } from '../src/registry/gc';
import type { ConvertResult } from './convert';
import { ExecutionStore } from './executions';
import { localLeftovers } from './leftovers';

/** One execution's history, wherever it ran. */
export interface HistoryView {
  executionName: string;
  videoId: string;
  sourceKey: string;
  status: string;
  startedAt: string;
  stoppedAt?: string;
  states: StateSummary[];
  stats: ExecutionStats;
  error?: FailureSummary;
}

/** How `convert` tells the person what happens while it runs. */
export interface ConvertReport {
  onEvent(event: StoredEvent): void;
  /** How far into the input SegmentMedia's ffmpeg has got (local runs; AWS tells only when a state ends). */
  onSegmenting?(seconds: number, totalSeconds: number): void;
  /** A line about the run itself (waiting for another, the execution started); not printed with --json. */
  note(text: string): void;
  /** Ctrl-C, SIGTERM or SIGHUP: a local run stops (ABORTED), a stage's is no longer followed. */
  signal?: AbortSignal;
  /** Caption files given with --captions. */
  captions?: string[];
}

/** Where else a deployed video plays (see cli/remote.ts stageLinks). */
export interface StageLinks {
  /** Its hosted page: the link to share, which plays in every browser. */
  watch: string;
  /** Its playlist on the delivery route: for web players on other pages (the bytes, with CORS). */
  proxiedPlaylist: string;
}

export interface Target {
  /** What to add to a suggested command so it runs here again: '' locally, ' --stage dev' for a stage. */
  readonly flags: string;
  /** Where the work happens, for "converting X…": '' locally, ' on lambda-hls-dev (eu-west-1)' for a stage. */
  readonly where: string;
  /** The local input bucket holds a copy per run only; a stage's holds the user's uploads. */
  readonly inputIsScratch: boolean;
  stores(): OwnedStores;
  /**
   * Deletes one video, never leaving a route that names deleted functions: locally after the
   * video's lock (a conversion under way finishes first; `note` says so); on a stage by a mark a
   * run under way finds when it registers (deleteVideo).
   */
  removeVideo(videoId: string, note: (text: string) => void): Promise<Removed>;
  /** Where a video's playlist is played from: its path on disk, or its URL under the stack's PlaybackBaseUrl. */
  playlistOf(route: RouteRecord): string;
  /** A ladder's rung's media playlist, where playlistOf puts the route's. */
  renditionPlaylistOf(route: RouteRecord, rendition: RenditionPlaylist): string;
  /** The video's poster and storyboard track, and its subtitle playlists, where playlistOf puts the playlist. */
  picturesOf(route: RouteRecord): { poster?: string; storyboard?: string; captions?: CaptionJson[] };
  /** A deployed video's hosted page and proxied playlist (a stage only). */
  linksOf?(videoId: string): StageLinks;
  convert(file: string, options: ConversionOptions, report: ConvertReport): Promise<ConvertResult>;
  /** How to play a converted video from here. */
  playHint(result: ConvertResult): string;
  /** An execution by name, or the newest of a video id. */
  history(id: string): Promise<HistoryView | undefined>;
  running(): Promise<RunningExecutions>;
  /** What killed processes left outside the stores, for gc (local only: S3 expires its own partial uploads). */
  leftovers?: Leftovers;
  /** The video an input copy belongs to, for gc (local only: the stage's input bucket holds uploads). */
  videoIdOf?(sourceKey: string): string;
  /** Holds a video against conversions while gc decides about it (the local lock); undefined when one converts it now. */
  hold?(videoId: string): Promise<(() => void) | undefined>;
  /** The uploads start-conversion could not start a conversion for (a stage only: Lambda keeps them in a queue). */
  failedUploads?(): FailedUploads;
}

/** A stage's failed-uploads queue, and how an upload's conversion is started from its event. */
export interface FailedUploads {
  queue: FailedUploadsQueue;
  /** What start-conversion does with an S3 event, done by the CLI: throws as it would fail. */
  start(event: unknown): Promise<StartOutcome[]>;
}

/** `--stage <name> [--region R]`, as the commands that can work on a deployed stack take them. */
export interface StageFlags {
  stage?: string;
  region?: string;
}

/** The embedded default, on the given local backend (by default one on this process's settings). */
export function localTarget(backend: LocalBackend = localBackend(settings()), serve: { port: number } = { port: 8080 }): Target {
  const store = new ExecutionStore(backend.settings.home);
  return {
    flags: '',
    where: '',
    inputIsScratch: true,
    stores: () => ({ objects: backend.objects, code: backend.code, functionPrefix: backend.settings.functionPrefix }),
    async removeVideo(videoId, note) {
      const release = await store.lock(videoId, (holder, lockPath) =>
        note(`  waiting: a conversion of ${videoId} (pid ${holder.pid}) is under way; delete goes on once it ends (lock ${lockPath})`),
      );
      try {
        return await deleteVideo(this.stores(), videoId);
      } finally {
        release();
      }
    },
    playlistOf: (route) => backend.objects.pathOf('output', route.playlistKey),
    renditionPlaylistOf: (_route, rendition) => backend.objects.pathOf('output', rendition.playlistKey),
    picturesOf: (route) => {
      const locate = (key: string) => backend.objects.pathOf('output', key);
      return { ...picturesOf(route, locate), ...captionsOf(route, locate) };
    },
    convert: (file, options, report) =>
      // The engine and everything a run needs load only when one runs.
      (require('./convert') as typeof import('./convert')).convertFile(file, {
        backend,
        options,
        onEvent: report.onEvent,
        ...(report.onSegmenting && { onSegmenting: report.onSegmenting }),
        ...(report.signal && { signal: report.signal }),
        ...(report.captions && { captions: report.captions }),
        onWait: (pid, lockPath) => report.note(`  waiting: another lambda-hls (pid ${pid}) is converting this file (lock ${lockPath})`),
        onReplace: (videoId, previous) =>
          report.note(
            `  replacing: ${videoId} was converted before from other content or with other options (revision ${previous}); this rendition replaces it`,
          ),
      }),
    playHint: (result) => {
      const command = serve.port === 8080 ? 'lambda-hls serve' : `lambda-hls serve --port ${serve.port}`;
      const { videoId } = result;
      if (serve.port === 0)
        return `play it   ${command}, then open /watch/${videoId} at the address it prints (or /v/${videoId}/index.m3u8)`;
      return `play it   ${command}, then open http://127.0.0.1:${serve.port}/watch/${videoId} (or /v/${videoId}/index.m3u8)`;
    },
    async history(id) {
      const record = store.find(id);
      if (!record) return undefined;
      const events = store.events(record.executionName);
      const error = record.error ?? (record.status === 'FAILED' ? failedState(events) : undefined);
      return {
        executionName: record.executionName,
        videoId: record.videoId,
        sourceKey: record.sourceKey,
        status: record.status,
        startedAt: record.startedAt,
        ...(record.stoppedAt && { stoppedAt: record.stoppedAt }),
        states: summarizeStates(events),
        stats: executionStats(events),
        ...(error && { error }),
      };
    },
    leftovers: localLeftovers(backend, store),
    videoIdOf: (sourceKey) =>
      videoIdFor(sourceKey, { secret: backend.settings.videoIdSecret, functionPrefix: backend.settings.functionPrefix }),
    async hold(videoId) {
      const taken = store.tryLock(videoId);
      return 'release' in taken ? taken.release : undefined;
    },
    async running() {
      const running = store.all().filter((r) => r.status === 'RUNNING');
      return {
        revisions: new Set(running.map((r) => `${r.videoId}/${r.revision}`)),
        sources: new Set(running.map((r) => r.sourceKey)),
      };
    },
  };
}
