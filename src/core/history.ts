// Execution histories in one shape, whichever engine ran them: the local engine's events and
// AWS Step Functions' GetExecutionHistory are both turned into StoredEvents, and the summaries
// `history` prints are computed from those.

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export interface StoredEvent {
  type: string;
  timestamp: number;
  state?: string;
  stateType?: string;
  /** Map iteration index, for events from inside the Map. */
  index?: number;
  error?: string;
  cause?: string;
  attempt?: number;
  /** The segment and planned package counts, on the StateExited of the state that plans them (for progress). */
  segments?: number;
  plannedPackages?: number;
  /** On a Map iteration's StateExited: packages it holds, calls it retried itself. */
  packages?: number;
  callRetries?: number;
  /** UTF-8 size of the state's input (StateEntered) or output (StateExited, Execution*). */
  payloadBytes?: number;
  /** On a StateExited: what the state decided, in words (ValidateInput: the encoding plan). */
  notes?: string[];
  /** On a StateExited: what the run did not honour or keep (a longer segment than asked, a dropped audio track). */
  warnings?: string[];
  /** On SegmentMedia's StateExited: ffmpeg's wall time and how much of it it was paused (back-pressure). */
  ffmpeg?: { seconds: number; pausedSeconds: number };
  /** On a transcode's SegmentMedia StateExited: the chunks planned (the EncodeChunks Map's items). */
  plannedChunks?: number;
  /** On an EncodeChunks iteration's StateExited: that chunk's ffmpeg wall time. */
  chunkSeconds?: number;
  /** On JoinChunks' StateExited: the chunks and each one's ffmpeg wall time, in order. */
  chunks?: { count: number; seconds: number[] };
}

/** What progress and stats take from a state's output: planned counts, a batch's packages and in-step retries. */
export type Progress = Pick<
  StoredEvent,
  | 'segments'
  | 'plannedPackages'
  | 'packages'
  | 'callRetries'
  | 'notes'
  | 'warnings'
  | 'ffmpeg'
  | 'plannedChunks'
  | 'chunkSeconds'
  | 'chunks'
>;

/** Reads a state's Progress from its output (composition: the ASL says which step ran there, the step table what it reports). */
export type ProgressOf = (state: string, output: unknown) => Progress;

/** What `convert --json` and `history --json` report about an execution's size. */
export interface ExecutionStats {
  segments: number;
  packages: number;
  /** The largest state input or output; Step Functions allows 262,144 bytes. */
  maxStatePayloadBytes: number;
  /** Events in the execution history as AWS counts them; the limit is 25,000. */
  historyEvents: number;
  /** ffmpeg's wall time in SegmentMedia, and the part of it it was paused waiting for segments to be stored. */
  ffmpegSeconds?: number;
  ffmpegPausedSeconds?: number;
  /** A transcode's chunks, and each one's ffmpeg wall time in seconds (in chunk order). */
  chunks?: number;
  chunkSeconds?: number[];
}

/**
 * How many events AWS Step Functions records for these, per its event types: a Task adds
 * TaskStateEntered, LambdaFunctionScheduled/Started/Succeeded-or-Failed per attempt and
 * TaskStateExited (also when caught); a Map adds MapStateEntered/Started and
 * MapStateSucceeded-or-Failed/Exited, and one MapIterationStarted and -Succeeded/-Failed per
 * iteration around its inner states; a Fail state FailStateEntered; the execution its own
 * Started and final event. Events from AWS itself are counted as they came.
 */
export function awsHistoryEventCount(events: readonly StoredEvent[]): number {
  let count = 0;
  const failedMaps = new Set<string>();
  for (const e of events) {
    const isMap = e.stateType === 'Map' && e.index === undefined;
    switch (e.type) {
      case 'StateEntered':
        count += isMap ? 2 : e.stateType === 'Task' ? 4 : 1;
        break;
      case 'StateRetried':
        count += 3;
        break;
      case 'StateFailed':
        // MapStateFailed; a Task's failure is its attempt's third event, a Fail state's the execution's.
        if (isMap) {
          count += 1;
          failedMaps.add(e.state ?? '');
        }
        break;
      case 'StateExited':
        // A failed (caught) Map exits with MapStateExited alone.
        count += isMap ? (failedMaps.has(e.state ?? '') ? 1 : 2) : 1;
        break;
      case 'StateCaught':
        break; // followed by the state's StateExited
      default:
        if (e.type.startsWith('MapIteration') || e.type.startsWith('Execution')) count += 1;
    }
  }
  return count;
}

/** Segment and package counts, the largest state payload and the AWS event count of a run. */
export function executionStats(events: readonly StoredEvent[], historyEvents = awsHistoryEventCount(events)): ExecutionStats {
  const stats: ExecutionStats = { segments: 0, packages: 0, maxStatePayloadBytes: 0, historyEvents };
  for (const e of events) {
    if (e.segments !== undefined) stats.segments = e.segments;
    if (e.packages !== undefined && e.type === 'StateExited') stats.packages += e.packages;
    if (e.payloadBytes !== undefined) stats.maxStatePayloadBytes = Math.max(stats.maxStatePayloadBytes, e.payloadBytes);
    if (e.ffmpeg) Object.assign(stats, { ffmpegSeconds: e.ffmpeg.seconds, ffmpegPausedSeconds: e.ffmpeg.pausedSeconds });
    if (e.chunks) Object.assign(stats, { chunks: e.chunks.count, chunkSeconds: e.chunks.seconds });
  }
  return stats;
}

export interface FailureSummary {
  state: string;
  error: string;
  cause: string;
}

export interface StateSummary {
  state: string;
  type: string;
  status: 'SUCCEEDED' | 'FAILED' | 'RUNNING';
  startedAt: number;
  stoppedAt?: number;
  /** Times the state machine retried the state (in a Map: its iterations' Tasks). */
  retries: number;
  /** Calls the state's iterations retried themselves (throttling), as their results report. */
  callRetries?: number;
  iterations?: { started: number; succeeded: number; failed: number };
  /** Packages the Map's finished iterations made or found (PackageSegments). */
  packages?: number;
  /** Each finished chunk's ffmpeg wall time, in the order they finished (EncodeChunks). */
  chunkSeconds?: number[];
  /** What the state decided, in words (ValidateInput: how the source is encoded and why). */
  notes?: string[];
  /** What it did not honour or keep. */
  warnings?: string[];
  error?: string;
  cause?: string;
}

/**
 * The first top-level state whose failure was final (not retried) and sent the run to CleanUp or
 * ended it, with the execution's error and cause.
 */
export function failedState(events: readonly StoredEvent[]): FailureSummary | undefined {
  let failed: StoredEvent | undefined;
  for (const e of events) {
    if (e.index !== undefined) continue;
    if (e.type === 'StateFailed' && !failed && e.stateType !== 'Fail' && e.state !== 'CleanUp') failed = e;
    else if (e.type === 'StateRetried' && failed && e.state === failed.state) failed = undefined;
  }
  const final = [...events].reverse().find((e) => e.type === 'ExecutionFailed');
  if (!failed && !final) return undefined;
  return {
    state: failed?.state ?? 'Failed',
    error: final?.error ?? failed?.error ?? 'UnknownError',
    cause: final?.cause ?? failed?.cause ?? '',
  };
}

/** One line per top-level state, in the order entered, with timing, retries and Map progress. */
export function summarizeStates(events: readonly StoredEvent[]): StateSummary[] {
  const states: StateSummary[] = [];
  const open = new Map<string, StateSummary>();
  for (const event of events) {
    if (!event.state) continue;
    if (event.index !== undefined || event.type.startsWith('MapIteration')) {
      const map = event.type.startsWith('MapIteration') ? open.get(event.state) : undefined;
      if (map) {
        map.iterations ??= { started: 0, succeeded: 0, failed: 0 };
        if (event.type === 'MapIterationStarted') map.iterations.started++;
        if (event.type === 'MapIterationSucceeded') map.iterations.succeeded++;
        if (event.type === 'MapIterationFailed') map.iterations.failed++;
      }
      // Retries inside the Map count towards the Map.
      const parent = () => [...open.values()].find((s) => s.type === 'Map' && s.status === 'RUNNING');
      if (event.type === 'StateRetried') {
        const map = parent();
        if (map) map.retries++;
      }
      if (event.type === 'StateExited' && event.chunkSeconds !== undefined) {
        const map = parent();
        if (map) map.chunkSeconds = [...(map.chunkSeconds ?? []), event.chunkSeconds];
      }
      if (event.type === 'StateExited' && event.packages !== undefined) {
        const map = parent();
        if (map) {
          map.packages = (map.packages ?? 0) + event.packages;
          if (event.callRetries) map.callRetries = (map.callRetries ?? 0) + event.callRetries;
        }
      }
      continue;
    }
    switch (event.type) {
      case 'StateEntered': {
        const summary: StateSummary = {
          state: event.state,
          type: event.stateType ?? 'Task',
          status: 'RUNNING',
          startedAt: event.timestamp,
          retries: 0,
        };
        states.push(summary);
        open.set(event.state, summary);
        break;
      }
      case 'StateExited': {
        // A state also exits after its failure was caught: it stays FAILED.
        const summary = open.get(event.state);
        if (summary && summary.status !== 'FAILED') Object.assign(summary, { status: 'SUCCEEDED', stoppedAt: event.timestamp });
        if (summary && event.notes?.length) summary.notes = event.notes;
        if (summary && event.warnings?.length) summary.warnings = event.warnings;
        break;
      }
      case 'StateRetried': {
        const summary = open.get(event.state);
        if (summary) {
          // A retried failure is not the state's outcome.
          Object.assign(summary, { status: 'RUNNING', retries: summary.retries + 1 });
          delete summary.error;
          delete summary.cause;
        }
        break;
      }
      case 'StateFailed': {
        const summary = open.get(event.state);
        if (summary) Object.assign(summary, { status: 'FAILED', stoppedAt: event.timestamp, error: event.error, cause: event.cause });
        break;
      }
    }
  }
  return states;
}

/** What a run said about itself: how the source is encoded (ValidateInput's plan) and what it did not honour. */
export function conversionNotes(events: readonly StoredEvent[]): { encoding?: string; warnings: string[] } {
  const exited = events.filter((e) => e.type === 'StateExited' && e.index === undefined);
  const encoding = exited.find((e) => e.state === 'ValidateInput' && e.notes?.length)?.notes?.join('; ');
  return { ...(encoding && { encoding }), warnings: exited.flatMap((e) => e.warnings ?? []) };
}

/** The last top-level state entered, where a run that stopped outside the engine was. */
export function lastState(events: readonly StoredEvent[]): string {
  return summarizeStates(events).at(-1)?.state ?? 'ValidateInput';
}
