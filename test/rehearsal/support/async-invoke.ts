// Lambda's asynchronous invocation, as S3's notifications use it, for the rehearsal: an event that
// fails is tried again MaximumRetryAttempts times (AWS waits about a minute, then two: here one
// second, then two — the rehearsal's clock is AWS's divided by 60), a throttled one until it is
// MaximumEventAgeInSeconds old (divided the same way) without counting as a retry; then Lambda's
// record of it goes to the function's OnFailure destination, sent with the function's own role as
// Lambda sends it (so the role must be allowed sqs:SendMessage), and is otherwise dropped. The
// settings are the template's AWS::Lambda::EventInvokeConfig, or Lambda's defaults (2, 6 hours).
// (docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html)
import { randomUUID } from 'node:crypto';
import { type DeployedFunction, type InvocationError, roleCredentials } from './functions';
import type { SqsEmulator } from './sqs';
import { type Account, resolve, type Template } from './stack';

/** The rehearsal's time for one of AWS's seconds, in milliseconds. */
const SCALE_MS = 1000 / 60;

interface InvokeConfig {
  retries: number;
  maxAgeSeconds: number;
  onFailure?: string;
}

export interface AsyncInvoker {
  /** Lambda accepts the event at once; resolves with the first successful result, or the last error once Lambda gave up. */
  invoke(key: string, event: unknown): Promise<unknown>;
  /** What became of each event that failed every attempt. */
  readonly givenUp: { function: string; attempts: number; destination?: string; sent: boolean }[];
}

export function asyncInvoker(options: {
  template: Template;
  account: Account;
  find(key: string): DeployedFunction;
  invoke(key: string, event: unknown): Promise<unknown>;
  sqs: SqsEmulator;
}): AsyncInvoker {
  const configs = new Map<string, InvokeConfig>();
  for (const resource of Object.values(options.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventInvokeConfig') continue;
    const props = resolve(options.template, options.account, resource.Properties);
    configs.set(String(props.FunctionName), {
      retries: Number(props.MaximumRetryAttempts ?? 2),
      maxAgeSeconds: Number(props.MaximumEventAgeInSeconds ?? 21600),
      ...(props.DestinationConfig?.OnFailure?.Destination && { onFailure: String(props.DestinationConfig.OnFailure.Destination) }),
    });
  }
  const givenUp: AsyncInvoker['givenUp'] = [];
  const pause = (seconds: number) => new Promise((r) => setTimeout(r, seconds * SCALE_MS));

  return {
    givenUp,
    async invoke(key, event) {
      const fn = options.find(key);
      const config = configs.get(fn.name) ?? { retries: 2, maxAgeSeconds: 21600 };
      const accepted = Date.now();
      let attempts = 0;
      let retries = 0;
      let last: InvocationError | undefined;
      let condition = 'RetriesExhausted';
      for (;;) {
        if (Date.now() - accepted > config.maxAgeSeconds * SCALE_MS) {
          condition = 'EventAgeExceeded';
          break;
        }
        try {
          attempts++;
          return await options.invoke(key, event);
        } catch (error) {
          last = error as InvocationError;
        }
        if (last.byService) {
          attempts--; // throttled: the function never ran
          await pause(60);
          continue;
        }
        if (retries === config.retries) break;
        retries++;
        await pause(60 * retries);
      }
      const record = {
        version: '1.0',
        timestamp: new Date().toISOString(),
        requestContext: { requestId: randomUUID(), functionArn: `${fn.arn}:$LATEST`, condition, approximateInvokeCount: attempts },
        requestPayload: event,
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        responsePayload: { errorType: last?.errorType, errorMessage: last?.errorMessage, trace: last?.trace ?? [] },
      };
      const sent = config.onFailure
        ? await options.sqs.send(roleCredentials(fn.role).accessKeyId, config.onFailure, JSON.stringify(record))
        : false;
      givenUp.push({ function: fn.key, attempts, ...(config.onFailure && { destination: config.onFailure }), sent });
      return last;
    },
  };
}
