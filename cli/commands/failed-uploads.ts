// `lambda-hls failed-uploads [--retry] [--json] --stage S`: the uploads whose conversion could not
// be started — start-conversion failed on their S3 event after Lambda's retries (Step Functions
// throttled or down, a permission taken away) — which Lambda kept in the stage's failed-uploads
// queue; --retry starts each one's conversion from its event, as start-conversion would have.
import { decodeS3Key, parseS3Event } from '../../src/steps/start-conversion';
import { parseFailedUpload } from '../../src/core/failed-upload';
import { CliError } from '../errors';
import type { FailedUploads, Target } from '../targets';
import type { FailedUploadJson, FailedUploadsJson } from './contracts';
import { EXIT_FAILED, EXIT_OK, plural, printJson, say } from './output';

/** How long a message is held out of other readers' sight: a list's look, or a retry's starts. */
const HOLD_SECONDS = { list: 30, retry: 300 };

function keysOf(event: unknown): string[] {
  return parseS3Event(event).map((o) => {
    try {
      return decodeS3Key(o.key);
    } catch {
      return o.key;
    }
  });
}

export async function runFailedUploads(target: Target, retry: boolean, json: boolean): Promise<number> {
  if (!target.failedUploads) {
    throw new CliError(
      'failed-uploads reads a deployed stage (--stage <name>): locally, convert starts each conversion itself, so no upload waits in a queue',
    );
  }
  const source: FailedUploads = target.failedUploads();
  const messages = await source.queue.take(retry ? HOLD_SECONDS.retry : HOLD_SECONDS.list);
  const out: FailedUploadsJson = { failedUploads: [], unreadable: [] };
  let stillFailing = 0;
  for (const message of messages) {
    const failed = parseFailedUpload(message.body);
    if (!failed) {
      out.unreadable.push(message.id);
      await source.queue.giveBack(message);
      continue;
    }
    const entry: FailedUploadJson = {
      id: message.id,
      failedAt: failed.failedAt,
      condition: failed.condition,
      attempts: failed.attempts,
      error: failed.error,
      cause: failed.cause,
      keys: keysOf(failed.event),
    };
    if (retry) {
      try {
        const outcomes = await source.start(failed.event);
        entry.retry = {
          result: 'started',
          executions: outcomes.map((o) => ({ key: o.key, result: o.result, ...(o.executionName && { executionName: o.executionName }) })),
        };
        await source.queue.remove(message);
      } catch (error) {
        stillFailing++;
        const e = error as Error;
        entry.retry = { result: 'failed', error: e.name, cause: e.message.split('\n')[0]! };
        await source.queue.giveBack(message);
      }
    } else {
      await source.queue.giveBack(message);
    }
    out.failedUploads.push(entry);
  }
  if (json) {
    printJson(out);
    return stillFailing > 0 ? EXIT_FAILED : EXIT_OK;
  }
  for (const f of out.failedUploads) {
    const keys = f.keys.map((k) => JSON.stringify(k)).join(', ') || '(no key)';
    say(`  ${f.failedAt || 'at an unknown time'}  ${keys}: ${plural(f.attempts, 'attempt')}, ${f.error}${f.cause ? `: ${f.cause}` : ''}`);
    if (f.retry?.result === 'started') {
      for (const e of f.retry.executions) {
        const what =
          e.result === 'started' ? 'started' : e.result === 'exists' ? 'had already started' : 'ignored (not an upload to convert)';
        say(`    ${what}${e.executionName ? ` ${e.executionName}: lambda-hls history ${e.executionName}${target.flags}` : ''}`);
      }
    } else if (f.retry) {
      say(`    still failing: ${f.retry.error}: ${f.retry.cause}`);
    }
  }
  if (out.unreadable.length > 0)
    say(`  left ${plural(out.unreadable.length, 'message')} that Lambda did not write: ${out.unreadable.join(', ')}`);
  const count = plural(out.failedUploads.length, 'upload');
  if (!retry) {
    say(
      out.failedUploads.length === 0
        ? `lambda-hls: no failed uploads${target.where}: every upload's conversion was started`
        : `lambda-hls: ${count} whose conversion could not be started${target.where}; lambda-hls failed-uploads --retry${target.flags} starts them`,
    );
    return EXIT_OK;
  }
  say(
    `lambda-hls: retried ${count}${target.where}: ${out.failedUploads.length - stillFailing} started` +
      (stillFailing > 0 ? `, ${stillFailing} still failing (kept in the queue for the next retry)` : ''),
  );
  return stillFailing > 0 ? EXIT_FAILED : EXIT_OK;
}
