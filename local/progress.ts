// Progress on stderr while a conversion runs: each state as it finishes, retries as they happen,
// and a live counter for the PackageSegments Map.
import type { EventLog } from './engine';
import { oneLineCause } from '../src/core/errors';

export interface ProgressWriter {
  write(text: string): void;
  isTTY?: boolean;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function progressReporter(out: ProgressWriter): (event: EventLog) => void {
  const started = new Map<string, number>();
  let total = 0;
  let done = 0;
  let lastShown = -1;
  let counterOnLine = false;
  const lastFailure = new Map<string, string>();
  const line = (text: string) => {
    if (counterOnLine) out.write('\n');
    counterOnLine = false;
    out.write(`${text}\n`);
  };
  return (event) => {
    const nested = 'index' in event && typeof event.index === 'number';
    switch (event.type) {
      case 'StateEntered':
        if (!nested) {
          started.set(event.state.name, event.timestamp);
          if (event.state.type === 'Map') {
            done = 0;
            lastShown = -1;
          }
        }
        break;
      case 'StateExited': {
        if (nested) break;
        const took = event.timestamp - (started.get(event.state.name) ?? event.timestamp);
        let detail = '';
        const output = event.state.output as { segments?: { segmentCount?: number } } | null | undefined;
        if (event.state.name === 'SegmentMedia' && output?.segments?.segmentCount !== undefined) {
          total = output.segments.segmentCount;
          detail = `  ${total} segment${total === 1 ? '' : 's'}`;
        }
        if (event.state.type === 'Map') detail = `  ${done}/${total} packages`;
        line(`  ok      ${event.state.name.padEnd(16)} ${seconds(took).padStart(7)}${detail}`);
        break;
      }
      case 'MapIterationSucceeded': {
        done++;
        // On a terminal, one line that counts up; in a log, a line per tenth.
        if (out.isTTY) {
          out.write(`\r  ...     PackageSegments  ${done}/${total}`);
          counterOnLine = true;
        } else {
          const tenth = total > 0 ? Math.floor((done * 10) / total) : done;
          if (tenth !== lastShown) {
            lastShown = tenth;
            line(`  ...     PackageSegments  ${done}/${total}`);
          }
        }
        break;
      }
      case 'StateFailed':
        // Whether this failure is retried or caught is only known from the next event.
        lastFailure.set(`${event.state.name}#${nested ? event.index : ''}`, `${event.Error}: ${oneLineCause(event.Cause)}`);
        break;
      case 'StateRetried': {
        const why = lastFailure.get(`${event.state.name}#${nested ? event.index : ''}`) ?? 'an error';
        const where = nested ? `${event.state.name} #${event.index}` : event.state.name;
        line(`  retry   ${where.padEnd(16)} after ${why}`);
        break;
      }
      case 'StateCaught':
        if (!nested) line(`  FAILED  ${event.state.name.padEnd(16)} ${lastFailure.get(`${event.state.name}#`) ?? ''}`);
        break;
      default:
        break;
    }
  };
}
