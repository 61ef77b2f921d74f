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
  /** SegmentMedia's segment count, on its StateExited (for progress). */
  segments?: number;
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
  retries: number;
  iterations?: { started: number; succeeded: number; failed: number };
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
      if (event.type === 'StateRetried') {
        const parent = [...open.values()].find((s) => s.type === 'Map' && s.status === 'RUNNING');
        if (parent) parent.retries++;
      }
      continue;
    }
    switch (event.type) {
      case 'StateEntered': {
        const summary: StateSummary = {
          state: event.state, type: event.stateType ?? 'Task', status: 'RUNNING', startedAt: event.timestamp, retries: 0,
        };
        states.push(summary);
        open.set(event.state, summary);
        break;
      }
      case 'StateExited': {
        const summary = open.get(event.state);
        if (summary) Object.assign(summary, { status: 'SUCCEEDED', stoppedAt: event.timestamp });
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

/** The last top-level state entered, where a run that stopped outside the engine was. */
export function lastState(events: readonly StoredEvent[]): string {
  return summarizeStates(events).at(-1)?.state ?? 'ValidateInput';
}
