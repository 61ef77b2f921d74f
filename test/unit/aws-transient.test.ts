// Network and server faults through the SDK's real middleware stack (no aws-sdk-client-mock, which
// replaces send): after the SDK's own retries they reach the steps as TransientNetworkError.
import { Readable } from 'node:stream';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { LambdaCodeStore } from '../../src/adapters/aws/code-store';
import { S3ObjectStore } from '../../src/adapters/aws/object-store';
import { asTransient, withTransientErrors } from '../../src/adapters/aws/transient';

type Answer = { error: Error } | { status: number; body: string };

/** A request handler that answers every request the same way, counting them. */
function handler(answer: Answer, calls: { count: number }) {
  return {
    handle: async () => {
      calls.count++;
      if ('error' in answer) throw answer.error;
      return {
        response: { statusCode: answer.status, headers: { 'content-type': 'application/xml' }, body: Readable.from([answer.body]) },
      };
    },
  } as never;
}

const config = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
  maxAttempts: 2,
  retryStrategy: undefined,
};

function s3(answer: Answer, calls = { count: 0 }, maxAttempts = 1) {
  const client = withTransientErrors(new S3Client({ ...config, maxAttempts, requestHandler: handler(answer, calls) }));
  return new S3ObjectStore(client, { input: 'in', work: 'work', output: 'out' });
}

const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe('AWS faults as the state machine retries them', () => {
  it('names a reset connection TransientNetworkError, after the SDK tried again', async () => {
    const calls = { count: 0 };
    await expect(s3({ error: reset() }, calls, 2).get('work', 'a.json')).rejects.toMatchObject({
      name: 'TransientNetworkError',
      message: expect.stringMatching(/ECONNRESET.*socket hang up/),
    });
    expect(calls.count).toBe(2);
  });

  it('names an S3 500 (InternalError) TransientNetworkError', async () => {
    const body = '<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>';
    await expect(s3({ status: 500, body }).put('work', 'a.json', '{}')).rejects.toMatchObject({ name: 'TransientNetworkError' });
  });

  it('keeps throttling by its own name and a refusal as it is', async () => {
    const slowDown = '<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>';
    await expect(s3({ status: 503, body: slowDown }).put('work', 'a.json', '{}')).rejects.toMatchObject({ name: 'SlowDown' });
    const denied = '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
    await expect(s3({ status: 403, body: denied }).put('work', 'a.json', '{}')).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('names a Lambda control-plane fault TransientNetworkError in the code store', async () => {
    const lambda = withTransientErrors(new LambdaClient({ ...config, requestHandler: handler({ error: reset() }, { count: 0 }) }));
    const store = new LambdaCodeStore(lambda, new S3Client(config), { roleArn: 'r', stagingBucket: 'w', runtime: 'provided.al2023' });
    await expect(store.describe('seg-0')).rejects.toMatchObject({ name: 'TransientNetworkError' });
  });

  it('names a body that breaks mid-read TransientNetworkError', async () => {
    const broken = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    expect(asTransient(broken)).toMatchObject({ name: 'TransientNetworkError' });
    expect(asTransient(new Error('plain'))).toMatchObject({ name: 'Error' });
  });
});
