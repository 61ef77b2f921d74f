// GetExecutionHistory events → StoredEvents, so an execution in AWS is summarised, printed and
// followed exactly like a local one. AWS names events per state type (TaskStateEntered,
// MapStateExited…) and reports a Task's failure as LambdaFunctionFailed/TimedOut; whether that
// failure was retried or caught shows only in the events after it, as in the local engine.
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { oneLineCause } from '../../core/errors';
import type { ProgressOf, StoredEvent } from '../../core/history';

const ENTERED = /^(\w+?)StateEntered$/;
const EXITED = /^(\w+?)StateExited$/;
const FAILURES = new Set([
  'LambdaFunctionFailed',
  'LambdaFunctionTimedOut',
  'LambdaFunctionStartFailed',
  'LambdaFunctionScheduleFailed',
  'TaskFailed',
  'TaskTimedOut',
  'TaskStartFailed',
  'TaskSubmitFailed',
  'MapStateFailed',
  'EvaluationFailed',
]);

interface Place {
  state?: string;
  stateType?: string;
  index?: number;
}

function failureOf(event: HistoryEvent): { error: string; cause: string } {
  const details =
    event.lambdaFunctionFailedEventDetails ??
    event.lambdaFunctionTimedOutEventDetails ??
    event.lambdaFunctionStartFailedEventDetails ??
    event.lambdaFunctionScheduleFailedEventDetails ??
    event.taskFailedEventDetails ??
    event.taskTimedOutEventDetails ??
    event.taskStartFailedEventDetails ??
    event.taskSubmitFailedEventDetails ??
    event.evaluationFailedEventDetails ??
    event.executionFailedEventDetails ??
    event.executionTimedOutEventDetails ??
    event.executionAbortedEventDetails;
  const raw = details as { error?: string; cause?: string } | undefined;
  const fallback = event.type === 'LambdaFunctionTimedOut' || event.type === 'TaskTimedOut' ? 'States.Timeout' : 'States.TaskFailed';
  return { error: raw?.error || fallback, cause: oneLineCause(raw?.cause ?? '') };
}

/**
 * A translator that keeps its place between calls: feed it an execution's events oldest first,
 * all at once or as they arrive while following a run, and it returns the new StoredEvents.
 */
export function historyTranslator(progressOf: ProgressOf): (events: readonly HistoryEvent[]) => StoredEvent[] {
  const places = new Map<number, Place>();
  const types = new Map<number, string>();
  // Per state (and iteration): failed and not yet retried or caught; scheduled at least once.
  const pendingFailure = new Set<string>();
  const scheduled = new Set<string>();
  // MapStateFailed carries no error of its own: it is the failure of the iteration that ended it.
  let lastIterationFailure: { error: string; cause: string } | undefined;
  return (events) => {
    const out: StoredEvent[] = [];
    for (const event of events) {
      const id = event.id ?? 0;
      const previous = places.get(event.previousEventId ?? -1) ?? {};
      const type = event.type ?? '';
      const timestamp = event.timestamp ? new Date(event.timestamp).getTime() : 0;
      let place: Place = previous;

      // Which state an event belongs to follows the previousEventId chain; an iteration's events
      // carry its index until the iteration ends.
      const previousType = types.get(event.previousEventId ?? -1) ?? '';
      types.set(id, type);
      if (/^MapIteration(Succeeded|Failed|Aborted)$/.test(previousType)) place = { ...previous, index: undefined };
      const entered = ENTERED.exec(type);
      if (entered) place = { ...place, state: event.stateEnteredEventDetails?.name, stateType: entered[1] };
      if (type.startsWith('MapIteration')) {
        const details =
          event.mapIterationStartedEventDetails ??
          event.mapIterationSucceededEventDetails ??
          event.mapIterationFailedEventDetails ??
          event.mapIterationAbortedEventDetails;
        place = { state: details?.name ?? place.state, stateType: 'Map', index: details?.index };
      }
      places.set(id, type === 'MapIterationStarted' ? { ...place } : place);

      const key = `${place.state}#${place.index ?? ''}`;
      const base: StoredEvent = { type, timestamp };
      if (place.state) base.state = place.state;
      if (place.stateType) base.stateType = place.stateType;
      if (place.index !== undefined) base.index = place.index;

      if (entered) {
        pendingFailure.delete(key);
        scheduled.delete(key);
        const input = event.stateEnteredEventDetails?.input;
        out.push({ ...base, type: 'StateEntered', ...(input !== undefined && { payloadBytes: Buffer.byteLength(input) }) });
      } else if (EXITED.test(type)) {
        const name = event.stateExitedEventDetails?.name ?? place.state;
        const exited: StoredEvent = { ...base, state: name, stateType: EXITED.exec(type)![1] };
        if (pendingFailure.delete(key)) {
          // As the local engine reports a caught failure: caught, then exited.
          out.push({ ...exited, type: 'StateCaught' }, { ...exited, type: 'StateExited' });
        } else {
          exited.type = 'StateExited';
          const output = event.stateExitedEventDetails?.output;
          if (output !== undefined) {
            exited.payloadBytes = Buffer.byteLength(output);
            try {
              Object.assign(exited, progressOf(name ?? '', JSON.parse(output)));
            } catch {
              // output not JSON: no counts to show
            }
          }
          out.push(exited);
        }
      } else if (type === 'LambdaFunctionScheduled' || type === 'TaskScheduled') {
        if (scheduled.has(key) && pendingFailure.delete(key)) out.push({ ...base, type: 'StateRetried' });
        scheduled.add(key);
      } else if (FAILURES.has(type)) {
        if (pendingFailure.has(key)) continue; // MapStateFailed after its own iteration failure: one failure
        pendingFailure.add(key);
        const failure = type === 'MapStateFailed' && lastIterationFailure ? lastIterationFailure : failureOf(event);
        if (place.index !== undefined) lastIterationFailure = failure;
        out.push({ ...base, type: 'StateFailed', ...failure });
      } else if (type.startsWith('MapIteration')) {
        out.push({ ...base, type });
      } else if (type === 'ExecutionFailed' || type === 'ExecutionTimedOut' || type === 'ExecutionAborted') {
        out.push({ type, timestamp, ...failureOf(event) });
      } else if (type === 'ExecutionStarted' || type === 'ExecutionSucceeded') {
        out.push({ type, timestamp });
      }
    }
    return out;
  };
}

/** Translates a whole history (oldest first) into StoredEvents. */
export function storedEventsFromHistory(events: readonly HistoryEvent[], progressOf: ProgressOf): StoredEvent[] {
  return historyTranslator(progressOf)(events);
}
