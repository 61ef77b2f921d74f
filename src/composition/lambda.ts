// A Lambda entry is one line: `export const handler = lambdaHandler('validateInput', validateInputStep)`,
// its step's entry imported from its own module, so its bundle holds that step and no other. The event
// is parsed first (a malformed one is refused before anything is built), then the step runs on
// the aws backend, whose ports are built on first use and kept for the container's life. Each
// invocation writes one structured JSON line (Powertools Logger) for CloudWatch: execution, video,
// state or route, duration and outcome, a failure's error name and cause. Local runs call the steps
// directly and log nothing.
import { Logger } from '@aws-lambda-powertools/logger';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Ports } from '../ports';
import { awsBackend } from './backends/aws';
import { errorFields, invocationFields, statusOf } from './invocation-log';
import { settings } from './settings';
import type { PortName } from '../ports';
import type { StepEntry } from '../steps/entry';
import type { FunctionKey } from './steps';

let backend: Ports | undefined;
let logger: Logger | undefined;

/** What Lambda passes a handler beside the event (the parts the logger reads). */
interface LambdaContext {
  functionName?: string;
  awsRequestId?: string;
}

/** The step on this container's backend (built by the first event, kept for the container's life), logged. */
async function runInContainer(key: FunctionKey, step: AnyStep, event: unknown, context?: LambdaContext): Promise<unknown> {
  logger ??= new Logger({ serviceName: 'lambda-hls' });
  if (context?.awsRequestId) logger.addContext(context as never);
  const started = performance.now();
  const took = () => Math.round(performance.now() - started);
  try {
    backend ??= awsBackend(settings());
    const result = await step.run(step.parse(event), backend, settings());
    const status = statusOf(result);
    const fields = { ...invocationFields(key, event, result), durationMs: took(), outcome: status ?? 'succeeded' };
    // A playback answer other than 2xx/3xx is worth an operator's look; the rest is routine.
    if (status !== undefined && status >= 400) logger.warn(`${fields.route} answered ${status}`, fields);
    else logger.info(`${fields.state ?? fields.route ?? key} ${status ?? 'succeeded'} in ${fields.durationMs} ms`, fields);
    return result;
  } catch (error) {
    const fields = invocationFields(key, event);
    const failure = errorFields(error);
    logger.error(`${fields.state ?? fields.route ?? key} failed: ${failure.name}: ${failure.cause}`, {
      ...fields,
      durationMs: took(),
      outcome: 'failed',
      error: failure,
    });
    throw error;
  }
}

/** A step's entry, whatever its input, output and ports. */
// biome-ignore lint/suspicious/noExplicitAny: an entry of any step; its own parse gives its run the input it takes
type AnyStep = StepEntry<any, unknown, PortName>;

/** The function's handler: its key (for the log) and its step's entry, the only step its bundle holds. */
export function lambdaHandler(key: FunctionKey, step: AnyStep): (event: unknown, context?: LambdaContext) => Promise<unknown> {
  return (event, context) => runInContainer(key, step, event, context);
}

/** What Lambda's Node.js runtime provides for response streaming (a global, only inside Lambda). */
interface ResponseStreaming {
  streamifyResponse(handler: (event: unknown, responseStream: Writable, context?: LambdaContext) => Promise<void>): unknown;
  HttpResponseStream: { from(stream: Writable, prelude: { statusCode: number; headers: Record<string, string> }): Writable };
}

/** A step whose answer is an HTTP response with a body that may be a stream (the delivery route). */
export interface StreamedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer | Readable;
}

/**
 * A function URL with `InvokeMode: RESPONSE_STREAM`: the step's status and headers go first (the
 * prelude), then its body as it arrives, so a segment is never held whole in memory nor capped by
 * the 6 MB of a buffered answer.
 */
export function streamingHandler(key: FunctionKey, step: AnyStep): unknown {
  const runtime = (globalThis as { awslambda?: ResponseStreaming }).awslambda;
  if (!runtime)
    throw new Error(`${key} streams its answers: it runs on Lambda's Node.js runtime, which provides awslambda.streamifyResponse`);
  return runtime.streamifyResponse(async (event, responseStream, context?: LambdaContext) => {
    const answer = (await runInContainer(key, step, event, context)) as StreamedAnswer;
    const out = runtime.HttpResponseStream.from(responseStream, { statusCode: answer.status, headers: answer.headers });
    const { body } = answer;
    await pipeline(typeof body === 'string' || Buffer.isBuffer(body) ? Readable.from([Buffer.from(body)]) : body, out);
  });
}
