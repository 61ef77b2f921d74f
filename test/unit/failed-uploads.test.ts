// start-conversion's failed events as the CLI reads them: Lambda's destination record parsed, the
// queue's messages held while looked at and given back, and `failed-uploads --retry` deleting only
// those whose conversion started (aws-sdk-client-mock for SQS).
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { FailedUploadsQueue } from '../../src/adapters/aws/failed-uploads';
import { parseFailedUpload } from '../../src/core/failed-upload';
import { runFailedUploads } from '../../cli/commands/failed-uploads';
import { CliError } from '../../cli/errors';
import { localTarget, type Target } from '../../cli/targets';

const sqsMock = mockClient(SQSClient);
const URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/lambda-hls-dev-failed-uploads';

/** Lambda's record of an S3 event that failed every attempt (docs: invocation-async-retain-records). */
function lambdaRecord(
  key: string,
  error = { errorType: 'TransientNetworkError', errorMessage: 'ServiceUnavailable: Service Unavailable\n  at …' },
) {
  return JSON.stringify({
    version: '1.0',
    timestamp: '2026-12-07T06:00:00.000Z',
    requestContext: {
      requestId: 'e4b46cbf',
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:lambda-hls-dev-startConversion:$LATEST',
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload: { Records: [{ eventName: 'ObjectCreated:Put', s3: { object: { key, eTag: 'abc', sequencer: '0A1B' } } }] },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: error,
  });
}

describe("Lambda's destination record", () => {
  it('gives when and why Lambda gave up, how often it tried, and the event unchanged', () => {
    const parsed = parseFailedUpload(lambdaRecord('My+clip%C3%A9.mp4'));
    expect(parsed).toEqual({
      failedAt: '2026-12-07T06:00:00.000Z',
      condition: 'RetriesExhausted',
      attempts: 3,
      error: 'TransientNetworkError',
      cause: 'ServiceUnavailable: Service Unavailable',
      event: { Records: [expect.objectContaining({ s3: { object: expect.objectContaining({ key: 'My+clip%C3%A9.mp4' }) } })] },
    });
  });

  it('names the condition when no attempt left an error (an event too old to try)', () => {
    const record = JSON.parse(lambdaRecord('a.mp4'));
    record.requestContext.condition = 'EventAgeExceeded';
    delete record.responsePayload;
    delete record.responseContext.functionError;
    expect(parseFailedUpload(JSON.stringify(record))).toMatchObject({
      condition: 'EventAgeExceeded',
      error: 'EventAgeExceeded',
      cause: '',
    });
  });

  it('is not read into anything else in the queue', () => {
    for (const body of ['', 'hello', '[]', '{"Records":[]}', '{"requestContext":{}}']) expect(parseFailedUpload(body)).toBeUndefined();
  });
});

describe('lambda-hls failed-uploads', () => {
  let stderr: string[];
  let stdout: string[];
  beforeEach(() => {
    sqsMock.reset();
    stderr = [];
    stdout = [];
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => stderr.push(String(chunk)) > 0);
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => stdout.push(String(chunk)) > 0);
  });
  afterEach(() => jest.restoreAllMocks());

  function stageWith(start: (event: unknown) => Promise<never[] | { key: string; result: 'started'; executionName: string }[]>): Target {
    return {
      ...localTarget(),
      flags: ' --stage dev',
      where: ' on lambda-hls-dev (us-east-1)',
      failedUploads: () => ({ queue: new FailedUploadsQueue(new SQSClient({ region: 'us-east-1' }), URL), start }),
    };
  }

  function queueHolding(bodies: string[]) {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: bodies.map((Body, i) => ({ MessageId: `m${i}`, ReceiptHandle: `r${i}`, Body })) })
      .resolves({});
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    sqsMock.on(DeleteMessageCommand).resolves({});
  }

  it('lists each failed upload and gives every message back, deleting none', async () => {
    queueHolding([lambdaRecord('lecture.mp4'), 'not a record']);
    const start = jest.fn();
    expect(await runFailedUploads(stageWith(start), false, true)).toBe(0);
    expect(JSON.parse(stdout.join(''))).toEqual({
      failedUploads: [expect.objectContaining({ id: 'm0', keys: ['lecture.mp4'], attempts: 3, error: 'TransientNetworkError' })],
      unreadable: ['m1'],
    });
    expect(start).not.toHaveBeenCalled();
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: URL, ReceiptHandle: 'r0', VisibilityTimeout: 0 },
      { QueueUrl: URL, ReceiptHandle: 'r1', VisibilityTimeout: 0 },
    ]);
    // Held out of other readers' sight while looked at; the last, empty, receive waits for every server.
    expect(sqsMock.commandCalls(ReceiveMessageCommand)[0]!.args[0].input).toMatchObject({
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 30,
      WaitTimeSeconds: 1,
    });
  });

  it('--retry starts each from its event, deletes those started and keeps those still failing, exit 1', async () => {
    queueHolding([lambdaRecord('one.mp4'), lambdaRecord('two.mp4')]);
    const start = jest.fn(async (event: unknown) => {
      const key = (event as { Records: { s3: { object: { key: string } } }[] }).Records[0]!.s3.object.key;
      if (key === 'two.mp4') throw Object.assign(new Error('ServiceUnavailable: still down'), { name: 'TransientNetworkError' });
      return [{ key, result: 'started' as const, executionName: 'one-abc-0a1b' }];
    });
    expect(await runFailedUploads(stageWith(start), true, false)).toBe(1);
    expect(sqsMock.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual(['r0']);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual(['r1']);
    const text = stderr.join('');
    expect(text).toContain('started one-abc-0a1b: lambda-hls history one-abc-0a1b --stage dev');
    expect(text).toContain('still failing: TransientNetworkError: ServiceUnavailable: still down');
    expect(text).toContain('retried 2 uploads on lambda-hls-dev (us-east-1): 1 started, 1 still failing');
  });

  it('says there is none when the queue is empty', async () => {
    queueHolding([]);
    expect(await runFailedUploads(stageWith(jest.fn()), false, false)).toBe(0);
    expect(stderr.join('')).toContain('lambda-hls: no failed uploads on lambda-hls-dev (us-east-1)');
  });

  it('is a usage error without --stage: locally no upload waits in a queue', async () => {
    await expect(runFailedUploads(localTarget(), false, false)).rejects.toThrow(CliError);
  });
});
