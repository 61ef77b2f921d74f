// Network faults and AWS server faults, once the SDK's own retries are spent, reach the state
// machine as TransientNetworkError: the name its Retry lists. Throttling keeps its own names
// (TooManyRequestsException, SlowDown…), which the ASL retries too; every other error is the
// caller's to handle as it is.
import { TransientNetworkError } from '../../core/errors';
import { isThrottling } from '../../core/retry';

/** Node's codes for a connection that failed or broke: worth another try. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);
const TIMEOUTS = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

interface SdkError extends Error {
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** The HTTP status an SDK error came with, when it came from a response. */
export function httpStatusOf(error: unknown): number | undefined {
  return (error as SdkError | undefined)?.$metadata?.httpStatusCode;
}

/** The error as the state machine should see it: TransientNetworkError for what another try may fix. */
export function asTransient(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof TransientNetworkError || isThrottling(error)) return error;
  const e = error as SdkError;
  const network = (e.code !== undefined && NETWORK_CODES.has(e.code)) || TIMEOUTS.has(e.name);
  const server = e.$fault === 'server' || (httpStatusOf(e) ?? 0) >= 500;
  if (!network && !server) return error;
  return new TransientNetworkError(`${e.name}${e.code ? ` (${e.code})` : ''}: ${e.message}`, { cause: error });
}

/** Chunks of a response body, a break in the middle named as asTransient names it. */
export async function* transientBody(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* chunks;
  } catch (error) {
    throw asTransient(error);
  }
}

interface MiddlewareStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
    options: { step: 'initialize'; name: string },
  ): void;
}

/** Installs the mapping on a client: every command it sends, paginators and lib-storage uploads included. */
export function withTransientErrors<C extends { middlewareStack: unknown }>(client: C): C {
  (client.middlewareStack as MiddlewareStack).add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        throw asTransient(error);
      }
    },
    { step: 'initialize', name: 'lambdaHlsTransientErrors' },
  );
  return client;
}
