// A few quick retries of one call, before the state machine's own Retry (which repeats the whole
// Task, with a longer backoff) takes over. Full jitter, as AWS recommends for contended APIs.
// The AWS adapters retry throttling this way; a step that makes many calls in one Task (reading
// every package back) also retries transient faults per call, so one bad call out of hundreds
// does not throw the whole Task's work away.
export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Told of each retry (a step counts them into its result, so the history shows them). */
  onRetry?: (error: unknown, attempt: number) => void;
}

import { THROTTLING_ERRORS, TransientNetworkError } from './errors';

/** By name, as errors rebuilt from another process (or a fault injected in a test) carry it. */
const TRANSIENT_NETWORK = new TransientNetworkError('').name;

/**
 * Per-call retries for Lambda's control plane (GetFunction, CreateFunction, DeleteFunction, quota
 * reads), sized from its rates: GetFunction 100 requests/s and every other call 15 requests/s per
 * account, refilled each second. Ten attempts with full jitter, from 100 ms doubling to 2 s, wait
 * about 6 s in all on average — several refills of either bucket — and bound a call to ~20 s
 * before the Task fails and the state machine's own Retry takes over. When half of all calls are
 * throttled at random, a call still fails only 1 time in 1,024, so a conversion of hundreds of
 * packages gets through; when every call is throttled, it fails cleanly within that bound.
 */
export const CONTROL_PLANE_RETRY: Readonly<Pick<RetryOptions, 'attempts' | 'baseMs' | 'maxMs'>> = {
  attempts: 10,
  baseMs: 100,
  maxMs: 2000,
};

const THROTTLING = new Set(THROTTLING_ERRORS);

export function isThrottling(error: unknown): boolean {
  return error instanceof Error && THROTTLING.has(error.name);
}

/**
 * What a step retries on its own: throttling and network or server faults. Of the state machine's
 * TRANSIENT_ERRORS, ResourceConflictException (a function not yet Active) is left to the code store,
 * which waits for Active itself, and to the state machine's Retry; `Lambda.*` names exist only there.
 */
export function isTransient(error: unknown): boolean {
  return isThrottling(error) || (error instanceof Error && error.name === TRANSIENT_NETWORK);
}

export function retryThrottled<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  return retryWhen(isThrottling, call, options);
}

export function retryTransient<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  return retryWhen(isTransient, call, options);
}

async function retryWhen<T>(retryable: (error: unknown) => boolean, call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = options.attempts ?? 3;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!retryable(error) || attempt >= attempts) throw error;
      options.onRetry?.(error, attempt);
      const cap = Math.min(options.maxMs ?? 5000, (options.baseMs ?? 200) * 2 ** (attempt - 1));
      await sleep(Math.floor(random() * cap));
    }
  }
}
