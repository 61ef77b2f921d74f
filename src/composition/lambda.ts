// A Lambda entry is one line: `export const handler = lambdaHandler('validateInput')`. The event
// is parsed first (a malformed one is refused before anything is built), then the step runs on
// the aws backend, whose ports are built on first use and kept for the container's life.
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Ports } from '../ports';
import { awsBackend } from './backends/aws';
import { settings } from './settings';
import { runStep, type FunctionKey } from './steps';

let backend: Ports | undefined;

/** The step on this container's backend (built by the first event, kept for the container's life). */
async function runInContainer(key: FunctionKey, event: unknown): Promise<unknown> {
  backend ??= awsBackend(settings());
  return runStep(key, event, backend, settings());
}

export function lambdaHandler(key: FunctionKey): (event: unknown) => Promise<unknown> {
  return (event) => runInContainer(key, event);
}

/** What Lambda's Node.js runtime provides for response streaming (a global, only inside Lambda). */
interface ResponseStreaming {
  streamifyResponse(handler: (event: unknown, responseStream: Writable) => Promise<void>): unknown;
  HttpResponseStream: { from(stream: Writable, prelude: { statusCode: number; headers: Record<string, string> }): Writable };
}

/** A step whose answer is an HTTP response with a body that may be a stream (the delivery route). */
export interface StreamedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | Readable;
}

/**
 * A function URL with `InvokeMode: RESPONSE_STREAM`: the step's status and headers go first (the
 * prelude), then its body as it arrives, so a segment is never held whole in memory nor capped by
 * the 6 MB of a buffered answer.
 */
export function streamingHandler(key: FunctionKey): unknown {
  const runtime = (globalThis as { awslambda?: ResponseStreaming }).awslambda;
  if (!runtime)
    throw new Error(`${key} streams its answers: it runs on Lambda's Node.js runtime, which provides awslambda.streamifyResponse`);
  return runtime.streamifyResponse(async (event, responseStream) => {
    const answer = (await runInContainer(key, event)) as StreamedAnswer;
    const out = runtime.HttpResponseStream.from(responseStream, { statusCode: answer.status, headers: answer.headers });
    await pipeline(typeof answer.body === 'string' ? Readable.from([Buffer.from(answer.body)]) : answer.body, out);
  });
}
