// A failed upload: the record Lambda sends to start-conversion's on-failure destination once an
// S3 event has failed every attempt (its retries spent, or too old to try again). The event it
// carries is the one S3 sent, so the conversion can be started from it later, unchanged.
// Format: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html

export interface FailedUpload {
  /** When Lambda gave up (ISO 8601), as the record says. */
  failedAt: string;
  /** Why it gave up: RetriesExhausted, EventAgeExceeded. */
  condition: string;
  /** How many times the function was invoked with the event. */
  attempts: number;
  /** The last attempt's error name (`TransientNetworkError`, `Sandbox.Timedout`…), or the condition when none ran. */
  error: string;
  /** Its message, one line. */
  cause: string;
  /** The S3 event notification, as it was delivered. */
  event: unknown;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A destination record from its message body; undefined for anything else in the queue. */
export function parseFailedUpload(body: string): FailedUpload | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const top = record(parsed);
  const context = record(top?.requestContext);
  if (!top || !context || !('requestPayload' in top)) return undefined;
  const response = record(top.responsePayload);
  const condition = typeof context.condition === 'string' ? context.condition : 'unknown';
  const errorType = typeof response?.errorType === 'string' ? response.errorType : undefined;
  const functionError = record(top.responseContext)?.functionError;
  const error = errorType ?? (typeof functionError === 'string' ? functionError : condition);
  const message = typeof response?.errorMessage === 'string' ? response.errorMessage : '';
  return {
    failedAt: typeof top.timestamp === 'string' ? top.timestamp : '',
    condition,
    attempts: Number.isInteger(context.approximateInvokeCount) ? (context.approximateInvokeCount as number) : 0,
    error,
    cause: message.split('\n')[0]!.slice(0, 500),
    event: top.requestPayload,
  };
}
