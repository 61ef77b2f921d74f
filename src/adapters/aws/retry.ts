// A few quick retries inside the adapter for throttling, before the state machine's own Retry
// (with its longer backoff) takes over. Full jitter, as AWS recommends for contended APIs.
export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const THROTTLING = new Set(['TooManyRequestsException', 'ThrottlingException', 'SlowDown', 'RequestLimitExceeded']);

export function isThrottling(error: unknown): boolean {
  return error instanceof Error && THROTTLING.has(error.name);
}

export async function retryThrottled<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 3;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isThrottling(error) || attempt >= attempts) throw error;
      const cap = Math.min(options.maxMs ?? 5000, (options.baseMs ?? 200) * 2 ** (attempt - 1));
      await sleep(Math.floor(random() * cap));
    }
  }
}
