// Starting a conversion's execution under its deterministic name (video id + revision), so a
// redelivered S3 event starts nothing new. Step Functions keeps a closed execution's name for 90
// days, so after a failed attempt the same upload starts the next one: <name>-2, <name>-3…
import { attemptName } from './core/naming';
import type { ExecutionStarter } from './ports';

/** Attempts of one conversion before giving up: far more than anyone retries by hand. */
const MAX_ATTEMPTS = 100;

export interface Started {
  result: 'started' | 'exists';
  executionName: string;
}

/**
 * Starts the conversion, or finds its attempt under way or done; a failed, timed-out or aborted one
 * is tried again, and so is a succeeded one whose result is gone when `stillServed` says so (the
 * video deleted since): "done" is never reported for what is not served.
 */
export async function startExecutionAttempt(
  executions: ExecutionStarter,
  name: string,
  input: unknown,
  stillServed: () => Promise<boolean> = async () => true,
): Promise<Started> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const executionName = attemptName(name, attempt);
    if ((await executions.start(executionName, input)) === 'started') return { result: 'started', executionName };
    const status = await executions.status(executionName);
    if (status === 'SUCCEEDED' && !(await stillServed())) continue;
    if (status !== 'FAILED' && status !== 'TIMED_OUT' && status !== 'ABORTED') return { result: 'exists', executionName };
  }
  throw new Error(`${name}: ${MAX_ATTEMPTS} attempts of this conversion exist already`);
}
