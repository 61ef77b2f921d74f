// Injected faults for the local adapters, to show that the state machine's retries and CleanUp
// work: LAMBDA_HLS_FAULTS="code.throttle=0.3,objects.transient=0.05,media.slow=0.5:200".
//   <port>.<kind>=<rate>[:<ms>]   port: objects | code | media
//   throttle  → TooManyRequestsException (as Lambda's control plane answers over ~15 req/s)
//   transient → TransientNetworkError (a reset connection, a 5xx)
//   slow      → the call waits <ms> (default 100) before it runs
// Each call of the port draws once per fault; LAMBDA_HLS_FAULT_SEED makes the draws repeatable.
import { TooManyRequestsException, TransientNetworkError } from '../../core/errors';
import { retryTransient, type RetryOptions } from '../../core/retry';
import type { Ports } from '../../ports';

export type FaultPort = 'objects' | 'code' | 'media';
export type FaultKind = 'throttle' | 'transient' | 'slow';

export interface Fault {
  port: FaultPort;
  kind: FaultKind;
  rate: number;
  delayMs: number;
}

export class InvalidFaultSpec extends Error {
  override readonly name = 'InvalidFaultSpec' as const;
}

const PORTS: readonly FaultPort[] = ['objects', 'code', 'media'];
const KINDS: readonly FaultKind[] = ['throttle', 'transient', 'slow'];

export function parseFaults(spec: string | undefined): Fault[] {
  if (!spec?.trim()) return [];
  return spec.split(',').map((part) => {
    const match = /^\s*(\w+)\.(\w+)=([0-9.]+)(?::(\d+))?\s*$/.exec(part);
    const port = match?.[1] as FaultPort;
    const kind = match?.[2] as FaultKind;
    const rate = Number(match?.[3]);
    if (!match || !PORTS.includes(port) || !KINDS.includes(kind) || !(rate >= 0 && rate <= 1)) {
      throw new InvalidFaultSpec(
        `LAMBDA_HLS_FAULTS: "${part.trim()}" is not <port>.<kind>=<rate 0..1>[:<ms>] with port ${PORTS.join('|')} and kind ${KINDS.join('|')}`,
      );
    }
    return { port, kind, rate, delayMs: match[4] ? Number(match[4]) : 100 };
  });
}

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultCounts {
  calls: number;
  throttle: number;
  transient: number;
  slow: number;
}

export interface FaultSetup {
  faults: Fault[];
  random: () => number;
}

/** The faults to inject and their draws: repeatable when a seed is given (LAMBDA_HLS_FAULT_SEED). */
export function faultSetup(faults: Fault[], seed: number | undefined): FaultSetup {
  return { faults, random: seed !== undefined ? seededRandom(seed) : Math.random };
}

/**
 * Wraps every method of a port: before the real call, each fault for this port fires with its
 * rate. `counts` records what fired, so a test can check that faults really happened.
 */
export function withFaults<T extends object>(
  port: FaultPort,
  target: T,
  faults: readonly Fault[],
  random: () => number,
  counts?: FaultCounts,
): T {
  const mine = faults.filter((f) => f.port === port);
  if (mine.length === 0) return target;
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value = Reflect.get(obj, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      // Faults are drawn before the call; without one the call goes through untouched (sync stays sync).
      return (...args: unknown[]) => {
        if (counts) counts.calls++;
        const call = () => (value as (...a: unknown[]) => unknown).apply(obj, args);
        let delayMs = 0;
        for (const fault of mine) {
          if (random() >= fault.rate) continue;
          if (counts) counts[fault.kind]++;
          const where = `injected fault on ${port}.${String(key)}`;
          if (fault.kind === 'throttle') return Promise.reject(new TooManyRequestsException(`Rate exceeded (${where})`));
          if (fault.kind === 'transient') return Promise.reject(new TransientNetworkError(`connection reset (${where})`));
          delayMs += fault.delayMs;
        }
        return delayMs > 0 ? new Promise((r) => setTimeout(r, delayMs)).then(call) : call();
      };
    },
  });
}

/**
 * What the AWS SDK does for every S3 and Lambda call (and the AWS adapters add for throttling):
 * a few quick retries of throttling and transient faults before the error reaches the step. The
 * local stores get the same layer above their injected faults, so a local run under faults sees
 * what a deployed one would.
 */
export function withRetries<T extends object>(target: T, options: RetryOptions = {}): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      const value = Reflect.get(obj, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const first = (value as (...a: unknown[]) => unknown).apply(obj, args);
        if (!(first instanceof Promise)) return first;
        let attempt = 0;
        return retryTransient(() => (attempt++ === 0 ? first : (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args)), options);
      };
    },
  });
}

/**
 * The stores and media tool with the faults applied. Object-store faults sit beneath the few
 * quick retries the AWS SDK makes for S3; code-store faults reach the steps as they are, so the
 * state machine's retries show in the history.
 */
export function injectFaults(ports: Ports, setup: FaultSetup, options: { counts?: FaultCounts; retry?: RetryOptions } = {}): Ports {
  const { faults, random } = setup;
  if (faults.length === 0) return ports;
  return {
    executions: ports.executions,
    clock: ports.clock,
    objects: withRetries(withFaults('objects', ports.objects, faults, random, options.counts), options.retry),
    code: withFaults('code', ports.code, faults, random, options.counts),
    media: withFaults('media', ports.media, faults, random, options.counts),
  };
}
