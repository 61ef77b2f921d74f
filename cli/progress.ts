// Progress on stderr while a conversion runs: each state as it finishes, retries as they happen,
// and a live counter for the PackageSegments Map. Fed StoredEvents, so the local engine and an
// execution followed in AWS show the same lines.
import { progressReader } from '../src/composition/steps';
import type { ProgressOf, StoredEvent } from '../src/core/history';
import { loadDefinition, type LoadedDefinition } from './engine';

/** Progress of ConvertVideo's states, as its ASL places each step's result. */
export function conversionProgress(loaded: LoadedDefinition = loadDefinition()): ProgressOf {
  return progressReader(loaded.tasks);
}

export interface ProgressWriter {
  write(text: string): void;
  isTTY?: boolean;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Shows each event as it comes; `segmenting` shows how far SegmentMedia's ffmpeg has got (local runs). */
export type ProgressReport = ((event: StoredEvent) => void) & { segmenting(seconds: number, totalSeconds: number): void };

export function progressReporter(out: ProgressWriter): ProgressReport {
  const started = new Map<string, number>();
  let total = 0;
  let done = 0;
  let lastShown = -1;
  let counterOnLine = false;
  let counterWidth = 0;
  const lastFailure = new Map<string, string>();
  const caught = new Set<string>();
  const line = (text: string) => {
    if (counterOnLine) out.write('\n');
    counterOnLine = false;
    counterWidth = 0;
    out.write(`${text}\n`);
  };
  /** On a terminal, one line that counts up; in a log, a line per tenth. */
  const counter = (text: string, tenth: number) => {
    if (out.isTTY) {
      out.write(`\r${text.padEnd(counterWidth)}`);
      counterWidth = text.length;
      counterOnLine = true;
    } else if (tenth !== lastShown) {
      lastShown = tenth;
      line(text);
    }
  };
  // What the running Map counts, as its iterations' results say: packages (of the planned total) or chunks.
  let chunkTotal = 0;
  let mapState = '';
  let unit: 'packages' | 'chunks' = 'packages';
  const planned = () => (unit === 'chunks' ? chunkTotal : total);
  const showDone = (count: number, counted: typeof unit) => {
    unit = counted;
    done += count;
    const of = planned();
    counter(`  ...     ${mapState.padEnd(16)} ${done}/${of}`, of > 0 ? Math.floor((done * 10) / of) : done);
  };
  const segmenting = (seconds: number, totalSeconds: number) => {
    const fraction = totalSeconds > 0 ? Math.min(1, seconds / totalSeconds) : 0;
    const percent = Math.floor(fraction * 100);
    counter(
      `  ...     SegmentMedia     ${String(percent).padStart(3)}%  ${seconds.toFixed(1)} s of ${totalSeconds.toFixed(1)} s`,
      Math.floor(fraction * 10),
    );
  };
  const report = (event: StoredEvent) => {
    const nested = event.index !== undefined;
    const state = event.state ?? '';
    switch (event.type) {
      case 'StateEntered':
        if (!nested && event.stateType !== 'Choice') {
          started.set(state, event.timestamp);
          lastShown = -1;
          if (event.stateType === 'Map') {
            done = 0;
            mapState = state;
          }
        }
        break;
      case 'StateExited': {
        if (nested) {
          // A PackageSegments batch finished: its packages count towards the Map's progress; a chunk, one.
          if (event.packages !== undefined) showDone(event.packages, 'packages');
          if (event.chunkSeconds !== undefined) showDone(1, 'chunks');
          break;
        }
        // A caught failure also exits the state; the FAILED line has said it all. A Choice only routes.
        if (caught.delete(state) || event.stateType === 'Choice') break;
        const took = event.timestamp - (started.get(state) ?? event.timestamp);
        let detail = '';
        if (event.segments !== undefined) {
          total = event.plannedPackages ?? event.segments;
          detail = `  ${event.segments} segment${event.segments === 1 ? '' : 's'}`;
          if (event.plannedPackages !== undefined) detail += ` in ${total} package${total === 1 ? '' : 's'}`;
        }
        if (event.plannedChunks !== undefined) chunkTotal = event.plannedChunks;
        if (event.stateType === 'Map') detail = `  ${done}/${planned()} ${unit}`;
        if (event.notes?.length) detail += `  ${event.notes.join('; ')}`;
        line(`  ok      ${state.padEnd(16)} ${seconds(took).padStart(7)}${detail}`);
        for (const warning of event.warnings ?? []) line(`  warning ${state.padEnd(16)} ${warning}`);
        break;
      }
      case 'StateFailed':
        // Whether this failure is retried or caught is only known from the next event.
        lastFailure.set(`${state}#${nested ? event.index : ''}`, `${event.error}: ${event.cause}`);
        break;
      case 'StateRetried': {
        const why = lastFailure.get(`${state}#${nested ? event.index : ''}`) ?? 'an error';
        const where = nested ? `${state} #${event.index}` : state;
        line(`  retry   ${where.padEnd(16)} after ${why}`);
        break;
      }
      case 'StateCaught':
        if (!nested) caught.add(state);
        if (!nested) line(`  FAILED  ${state.padEnd(16)} ${lastFailure.get(`${state}#`) ?? ''}`);
        break;
      default:
        break;
    }
  };
  return Object.assign(report, { segmenting });
}
