// The AWS adapters, with aws-sdk-client-mock: the exact commands each port method sends.
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetAccountSettingsCommand,
  GetFunctionCommand,
  LambdaClient,
  ListFunctionsCommand,
  ResourceConflictException,
  ResourceNotFoundException,
  TooManyRequestsException,
  UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash } from 'node:crypto';
import { LambdaCodeStore, urlExpiry } from '../../src/adapters/aws/code-store';
import { DIRECT_UPLOAD_BYTES } from '../../src/core/packing';
import { S3ObjectStore } from '../../src/adapters/aws/object-store';
import { InputNotFound } from '../../src/core/errors';
import { awsBackend } from '../../src/composition/backends/aws';
import { readSettings } from '../../src/composition/settings';
import { bufferSource } from '../support/memory';

const lambdaMock = mockClient(LambdaClient);
const s3Mock = mockClient(S3Client);
const sleeps: number[] = [];
const ROLE = 'arn:aws:iam::123456789012:role/lambda-hls-dev-segment';

function store() {
  return new LambdaCodeStore(new LambdaClient({ region: 'us-east-1' }), new S3Client({ region: 'us-east-1' }), {
    roleArn: ROLE,
    runtime: 'provided.al2023',
    stagingBucket: 'work-bucket',
    activeWaitSeconds: 5,
    retry: { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
    now: () => Date.parse('2026-11-20T12:00:00Z'),
  });
}
const sha = (zip: Buffer) => createHash('sha256').update(zip).digest('base64');
const meta = { $metadata: {} };

beforeEach(() => {
  lambdaMock.reset();
  s3Mock.reset();
  sleeps.length = 0;
  // The waiters poll GetFunction until the function is Active / its update Successful.
  lambdaMock.on(GetFunctionCommand).resolves({ Configuration: { State: 'Active', LastUpdateStatus: 'Successful' } });
});

describe('LambdaCodeStore.createPackage', () => {
  it('creates a never-invoked function with the zip passed directly', async () => {
    const zip = Buffer.from('PK\x03\x04 small package');
    lambdaMock.on(CreateFunctionCommand).resolves({ FunctionName: 'seg-0' });
    const result = await store().createPackage('seg-0', bufferSource(zip));
    expect(result).toEqual({ name: 'seg-0', codeSha256: sha(zip), codeSize: zip.length, created: true, retries: 0 });
    const calls = lambdaMock.commandCalls(CreateFunctionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toMatchObject({
      FunctionName: 'seg-0',
      Role: ROLE,
      Runtime: 'provided.al2023',
      Handler: 'index.handler',
      PackageType: 'Zip',
      Code: { ZipFile: zip },
      Publish: false,
    });
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('stages a package over 50 MB in S3, creates from there, then removes the staged copy', async () => {
    const zip = Buffer.alloc(DIRECT_UPLOAD_BYTES + 1);
    s3Mock.on(PutObjectCommand).resolves({});
    s3Mock.on(DeleteObjectCommand).resolves({});
    lambdaMock.on(CreateFunctionCommand).resolves({});
    // Streamed in pieces, never whole: the hash is still that of the whole zip.
    const pieces = {
      size: zip.length,
      async *chunks() {
        for (let i = 0; i < zip.length; i += 8 << 20) yield zip.subarray(i, i + (8 << 20));
      },
    };
    const result = await store().createPackage('seg-big', pieces);
    expect(result).toEqual({ name: 'seg-big', codeSha256: sha(zip), codeSize: zip.length, created: true, retries: 0 });
    expect(s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
      Bucket: 'work-bucket',
      Key: 'packages/seg-big.zip',
      ContentLength: zip.length,
    });
    expect(lambdaMock.commandCalls(CreateFunctionCommand)[0]!.args[0].input.Code).toEqual({
      S3Bucket: 'work-bucket',
      S3Key: 'packages/seg-big.zip',
    });
    expect(s3Mock.commandCalls(DeleteObjectCommand)[0]!.args[0].input).toEqual({ Bucket: 'work-bucket', Key: 'packages/seg-big.zip' });
  });

  it('treats an existing function with the same code as done', async () => {
    const zip = Buffer.from('same');
    lambdaMock.on(CreateFunctionCommand).rejects(new ResourceConflictException({ message: 'Function already exist: seg-0', ...meta }));
    lambdaMock.on(GetFunctionCommand).resolves({ Configuration: { CodeSha256: sha(zip), State: 'Active' } });
    const result = await store().createPackage('seg-0', bufferSource(zip));
    expect(result.created).toBe(false);
    expect(lambdaMock.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
  });

  it('replaces the code of an existing function whose code differs', async () => {
    const zip = Buffer.from('new');
    lambdaMock.on(CreateFunctionCommand).rejects(new ResourceConflictException({ message: 'exists', ...meta }));
    lambdaMock.on(GetFunctionCommand).resolves({ Configuration: { CodeSha256: 'old', State: 'Active', LastUpdateStatus: 'Successful' } });
    lambdaMock.on(UpdateFunctionCodeCommand).resolves({});
    await store().createPackage('seg-0', bufferSource(zip));
    expect(lambdaMock.commandCalls(UpdateFunctionCodeCommand)[0]!.args[0].input).toEqual({ FunctionName: 'seg-0', ZipFile: zip });
  });

  it('retries TooManyRequestsException with jittered backoff, then succeeds, counting what it retried', async () => {
    lambdaMock
      .on(CreateFunctionCommand)
      .rejectsOnce(new TooManyRequestsException({ message: 'Rate exceeded', ...meta }))
      .rejectsOnce(new TooManyRequestsException({ message: 'Rate exceeded', ...meta }))
      // The SDK had retried this one once more itself.
      .resolves({ $metadata: { attempts: 2 } });
    const stored = await store().createPackage('seg-0', bufferSource(Buffer.from('x')));
    expect(lambdaMock.commandCalls(CreateFunctionCommand)).toHaveLength(3);
    expect(sleeps).toEqual([100, 200]);
    expect(stored.retries).toBe(3);
  });

  it('hands persistent throttling to the state machine under its own name', async () => {
    lambdaMock.on(CreateFunctionCommand).rejects(new TooManyRequestsException({ message: 'Rate exceeded', ...meta }));
    await expect(store().createPackage('seg-0', bufferSource(Buffer.from('x')))).rejects.toMatchObject({
      name: 'TooManyRequestsException',
    });
    expect(lambdaMock.commandCalls(CreateFunctionCommand)).toHaveLength(3);
  });
});

describe('LambdaCodeStore, reading and deleting', () => {
  it('describes a package with its presigned URL and when the URL expires', async () => {
    const url =
      'https://awslambda-us-east-1-tasks.s3.us-east-1.amazonaws.com/snapshots/x?X-Amz-Date=20261120T115930Z&X-Amz-Expires=600&X-Amz-Signature=abc';
    lambdaMock.on(GetFunctionCommand, { FunctionName: 'seg-0' }).resolves({
      Configuration: { CodeSha256: 'c2hh', CodeSize: 1234 },
      Code: { Location: url },
    });
    expect(await store().describe('seg-0')).toEqual({
      name: 'seg-0',
      codeSha256: 'c2hh',
      codeSize: 1234,
      url,
      urlExpiresAt: Date.parse('2026-11-20T12:09:30Z'),
    });
  });

  it('says a missing function is missing', async () => {
    lambdaMock.on(GetFunctionCommand).rejects(new ResourceNotFoundException({ message: 'Function not found', ...meta }));
    lambdaMock.on(DeleteFunctionCommand).rejects(new ResourceNotFoundException({ message: 'Function not found', ...meta }));
    expect(await store().describe('gone')).toBeUndefined();
    expect(await store().delete('gone')).toBe(false);
  });

  it('deletes a function', async () => {
    lambdaMock.on(DeleteFunctionCommand).resolves({});
    expect(await store().delete('seg-0')).toBe(true);
    expect(lambdaMock.commandCalls(DeleteFunctionCommand)[0]!.args[0].input).toEqual({ FunctionName: 'seg-0' });
  });

  it('lists functions by prefix across pages', async () => {
    lambdaMock
      .on(ListFunctionsCommand)
      .resolvesOnce({
        Functions: [{ FunctionName: 'svc-dev-seg-a-0', CodeSha256: 'x', CodeSize: 1 }, { FunctionName: 'other' }],
        NextMarker: 'm1',
      })
      .resolvesOnce({ Functions: [{ FunctionName: 'svc-dev-seg-a-1', CodeSha256: 'y', CodeSize: 2 }] });
    const found = await store().list('svc-dev-seg-a-');
    expect(found.map((f) => f.name)).toEqual(['svc-dev-seg-a-0', 'svc-dev-seg-a-1']);
    expect(lambdaMock.commandCalls(ListFunctionsCommand)[1]!.args[0].input).toMatchObject({ Marker: 'm1' });
  });

  it('reads the code storage quota from GetAccountSettings', async () => {
    lambdaMock
      .on(GetAccountSettingsCommand)
      .resolves({ AccountLimit: { TotalCodeSize: 80_530_636_800 }, AccountUsage: { TotalCodeSize: 1_000 } });
    expect(await store().quota()).toEqual({ limitBytes: 80_530_636_800, usedBytes: 1_000 });
  });

  it("reads the account's unreserved concurrency beside the quota", async () => {
    lambdaMock.on(GetAccountSettingsCommand).resolves({
      AccountLimit: { TotalCodeSize: 300e9, ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 },
      AccountUsage: { TotalCodeSize: 0 },
    });
    expect(await store().quota()).toEqual({ limitBytes: 300e9, usedBytes: 0, unreservedConcurrency: 10 });
  });

  it('falls back to the documented 10 minutes for a URL without expiry fields', () => {
    expect(urlExpiry('https://example.invalid/x', 1000)).toBe(1000 + 600_000);
  });
});

describe('S3ObjectStore', () => {
  // Fixed fake credentials: presigning is local computation, and nothing here reaches AWS.
  const client = () => new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
  const objects = () => new S3ObjectStore(client(), { input: 'in-b', work: 'work-b', output: 'out-b' });

  it('maps logical buckets to real ones', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: 42 });
    expect(await objects().head('input', 'clip.mp4')).toEqual({ key: 'clip.mp4', bytes: 42 });
    expect(s3Mock.commandCalls(HeadObjectCommand)[0]!.args[0].input).toEqual({ Bucket: 'in-b', Key: 'clip.mp4' });
  });

  it('says a missing object is missing', async () => {
    s3Mock.on(HeadObjectCommand).rejects(new NotFound({ message: 'NotFound', ...meta }));
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'NoSuchKey', ...meta }));
    expect(await objects().head('work', 'x')).toBeUndefined();
    await expect(objects().get('work', 'x')).rejects.toThrow(InputNotFound);
  });

  it('reads a 403 as missing only in a bucket the caller may not list (the public functions), elsewhere as the refusal it is', async () => {
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    s3Mock.on(GetObjectCommand).rejects(denied);
    const unlisted = new S3ObjectStore(client(), { input: 'in-b', work: 'work-b', output: 'out-b' }, ['output']);
    expect(await unlisted.getTagged('output', 'routes/x.json')).toBeUndefined();
    await expect(unlisted.get('output', 'v/x/r/index.m3u8')).rejects.toThrow(InputNotFound);
    await expect(unlisted.get('work', 'x')).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(objects().getTagged('output', 'routes/x.json')).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('writes conditionally: If-Match the ETag read, or If-None-Match: * where there was none; a lost race is false', async () => {
    const failed = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    s3Mock
      .on(PutObjectCommand)
      .resolvesOnce({})
      .rejectsOnce(failed('PreconditionFailed', 412))
      .rejectsOnce(failed('ConditionalRequestConflict', 409));
    expect(await objects().putIf('output', 'routes/a.json', '{}', { etag: '"abc"' })).toBe(true);
    expect(await objects().putIf('output', 'routes/a.json', '{}', { absent: true })).toBe(false);
    expect(await objects().putIf('output', 'routes/a.json', '{}', { etag: '"abc"' })).toBe(false);
    const sent = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(sent.map((i) => [i.IfMatch, i.IfNoneMatch])).toEqual([
      ['"abc"', undefined],
      [undefined, '*'],
      ['"abc"', undefined],
    ]);
    s3Mock.on(PutObjectCommand).rejects(failed('AccessDenied', 403));
    await expect(objects().putIf('output', 'routes/a.json', '{}', { absent: true })).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('lists a prefix across pages', async () => {
    s3Mock
      .on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: 'v/a/1', Size: 1 }], IsTruncated: true, NextContinuationToken: 't' })
      .resolvesOnce({ Contents: [{ Key: 'v/a/2', Size: 2 }] });
    expect(await objects().list('output', 'v/a/')).toEqual([
      { key: 'v/a/1', bytes: 1 },
      { key: 'v/a/2', bytes: 2 },
    ]);
    expect(s3Mock.commandCalls(ListObjectsV2Command)[1]!.args[0].input).toMatchObject({
      Bucket: 'out-b',
      Prefix: 'v/a/',
      ContinuationToken: 't',
    });
  });

  it('writes objects with their content type and length (also 0: an empty claim)', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    await objects().put('output', 'v/a/r/index.m3u8', '#EXTM3U\n', 'application/vnd.apple.mpegurl');
    await objects().put('work', 'claims/x', '');
    expect(s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'out-b',
      Key: 'v/a/r/index.m3u8',
      Body: '#EXTM3U\n',
      ContentLength: 8,
      ContentType: 'application/vnd.apple.mpegurl',
    });
    expect(s3Mock.commandCalls(PutObjectCommand)[1]!.args[0].input).toMatchObject({ Key: 'claims/x', ContentLength: 0 });
  });

  it('gives ffmpeg a presigned GET URL for the input', async () => {
    s3Mock.on(HeadObjectCommand).resolves({ ContentLength: 1 });
    const url = new URL(await objects().readableLocation('input', 'My clip.mp4'));
    expect(url.hostname).toContain('in-b');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
  });
});

describe('the aws backend', () => {
  const stack = { INPUT_BUCKET: 'in', WORK_BUCKET: 'work', OUTPUT_BUCKET: 'out', SEGMENT_ROLE_ARN: ROLE };

  it('builds S3 and Lambda adapters from the variables the stack sets', () => {
    const ports = awsBackend(readSettings(stack), 'us-east-1');
    expect(ports.objects).toBeInstanceOf(S3ObjectStore);
    expect(ports.code).toBeInstanceOf(LambdaCodeStore);
  });

  it('names the missing variable when the stack did not configure the function', () => {
    const ports = awsBackend(readSettings({ INPUT_BUCKET: 'in' }), 'us-east-1');
    expect(() => ports.objects).toThrow('WORK_BUCKET is not set');
    expect(() => ports.executions).toThrow('STATE_MACHINE_ARN is not set');
  });

  it('asks for the segment role only when a package is created', async () => {
    const code = awsBackend(readSettings({}), 'us-east-1').code;
    await expect(code.createPackage('seg-0', bufferSource(Buffer.from('x')))).rejects.toThrow('SEGMENT_ROLE_ARN is not set');
    expect(lambdaMock.calls()).toHaveLength(0);
  });
});
