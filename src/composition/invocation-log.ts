// What a deployed function says about one invocation, as the structured line an operator reads in
// CloudWatch: which execution, video and state (or route), how long, and how it ended (with the
// error's name and cause). Pure: lambda.ts writes it with Powertools Logger.
import { describeOutcome, type StartOutcome } from '../core/upload-outcome';
import type { FunctionKey } from './steps';

type Json = Record<string, unknown>;

const asObject = (value: unknown): Json | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The ASL state a function runs as (one name runs through state, function key and folder). */
export function stateOf(key: FunctionKey): string {
  return `${key[0]!.toUpperCase()}${key.slice(1)}`;
}

export interface InvocationFields {
  /** The state it ran as (a Task of ConvertVideo), or the route it answered. */
  state?: string;
  route?: string;
  execution?: string;
  videoId?: string;
  revision?: string;
  /** A Map iteration's item: the chunk or batch number. */
  chunk?: number;
  batch?: number;
  /** Object keys an upload notification named (start-conversion), and what became of each. */
  keys?: string[];
  uploads?: string[];
}

/** What the event (and the result, once there is one) says about the invocation. */
export function invocationFields(key: FunctionKey, event: unknown, result?: unknown): InvocationFields {
  const raw = asObject(event) ?? {};
  const out = asObject(result);
  if (key === 'serveSegment' || key === 'deliverSegment') {
    const http = asObject(asObject(raw.requestContext)?.http);
    return { route: `${text(http?.method) ?? 'GET'} ${text(raw.rawPath) ?? '/'}` };
  }
  if (key === 'startConversion') {
    const records = Array.isArray(raw.Records) ? raw.Records : [];
    const keys = records.map((r) => text(asObject(asObject(asObject(r)?.s3)?.object)?.key)).filter((k): k is string => k !== undefined);
    // Why an upload did or did not start a conversion ("started \"clip.mp4\" as clip-1a2b3c-…").
    const uploads = Array.isArray(result) ? (result as StartOutcome[]).map(describeOutcome) : undefined;
    return { keys, ...(uploads && { uploads }) };
  }
  const fields: InvocationFields = { state: stateOf(key) };
  // ValidateInput's and CleanUp's event: {input, execution}; the job is in the input (CleanUp's).
  const job = asObject(raw.job) ?? asObject(asObject(raw.input)?.job);
  const execution = text(raw.execution) ?? text(job?.execution) ?? text(out?.execution);
  const videoId = text(raw.videoId) ?? text(job?.videoId) ?? text(out?.videoId);
  const revision = text(raw.revision) ?? text(job?.revision) ?? text(out?.revision);
  if (execution) fields.execution = execution;
  if (videoId) fields.videoId = videoId;
  if (revision) fields.revision = revision;
  if (typeof raw.chunk === 'number') fields.chunk = raw.chunk;
  if (typeof raw.batch === 'number') fields.batch = raw.batch;
  return fields;
}

/** An HTTP answer's status (the playback route's result, or the delivery route's streamed answer). */
export function statusOf(result: unknown): number | undefined {
  const out = asObject(result);
  const status = out?.statusCode ?? out?.status;
  return typeof status === 'number' ? status : undefined;
}

/** An error as the line names it: its name, its message as the cause, and what caused it in turn. */
export function errorFields(error: unknown): { name: string; cause: string; causedBy?: string } {
  const e = error instanceof Error ? error : new Error(String(error));
  const inner = e.cause instanceof Error ? `${e.cause.name}: ${e.cause.message}` : e.cause !== undefined ? String(e.cause) : undefined;
  return { name: e.name, cause: e.message, ...(inner && { causedBy: inner }) };
}
