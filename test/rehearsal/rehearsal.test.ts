// The AWS rehearsal: what `serverless package` writes — each function's bundle, the ffmpeg layer,
// the environment the template gives each function — run on emulated AWS on this machine, reached
// by host name through the standard AWS_ENDPOINT_URL_<SERVICE> variables. The product's code does
// not know it is rehearsing.
import './support/hosts.cjs'; // this process reaches the emulated services by name too
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { videoIdFor } from '../../src/core/naming';
import { makeMp3, makeVideo, removeDir, tempDir } from '../support/fixtures';
import { FunctionRunner, InvocationError, lambdaNode, roleCredentials } from './support/functions';
import { startLambda, type LambdaEmulator } from './support/lambda';
import { startS3, type S3Emulator } from './support/s3';
import { emulatedAccount, packageStack, resourcesOfType, type Account, type Template } from './support/stack';

const STAGE = 'rehearsal';
const CODE_BUCKET = 'awslambda-us-east-1-tasks';

let scratch: string;
let template: Template;
let account: Account;
let s3: S3Emulator;
let lambda: LambdaEmulator;
let runner: FunctionRunner;
let user: S3Client;
let buckets: { input: string; work: string; output: string };

beforeAll(async () => {
  scratch = tempDir('rehearsal');
  account = emulatedAccount(STAGE, 'http://localhost:0');
  template = packageStack(STAGE, join(scratch, 'out'), scratch);
  const named = Object.fromEntries(resourcesOfType(template, account, 'AWS::S3::Bucket').map(([id, p]) => [id, p.BucketName as string]));
  buckets = { input: named.InputBucket!, work: named.WorkBucket!, output: named.OutputBucket! };
  const roles = resourcesOfType(template, account, 'AWS::IAM::Role').map(([id]) => id);
  const people = { accessKeyId: 'AKIAREHEARSALUSER', secretAccessKey: 'rehearsal-user' };
  const lambdaService = { accessKeyId: 'AKIALAMBDASERVICE', secretAccessKey: 'rehearsal-lambda' };
  mkdirSync(join(scratch, 's3'));
  s3 = await startS3({
    directory: join(scratch, 's3'),
    buckets: [...Object.values(buckets), CODE_BUCKET],
    credentials: [people, lambdaService, ...roles.map(roleCredentials)],
  });
  lambda = await startLambda({
    account: account.account,
    region: account.region,
    s3Endpoint: s3.pathStyleEndpoint,
    codeBucket: CODE_BUCKET,
    credentials: lambdaService,
  });
  runner = new FunctionRunner({
    packaged: join(scratch, 'out'),
    root: join(scratch, 'deployed'),
    lambdaEnvironment: {
      AWS_REGION: account.region,
      AWS_DEFAULT_REGION: account.region,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
    },
  });
  runner.deploy(template, account);
  user = new S3Client({ region: account.region, endpoint: s3.endpoint, credentials: people });
}, 300_000);

afterAll(async () => {
  await runner?.close();
  await lambda?.close();
  await s3?.close();
  removeDir(scratch);
});

/** The Tasks of ConvertVideo in the ASL's order, each its deployed bundle (the Step Functions emulator is the next step). */
async function runTasks(key: string, options = { segmentSeconds: 4, profile: 'source' }) {
  const job = (await runner.invoke('validateInput', { source: { key }, revision: 'abcd1234', options })) as {
    videoId: string;
    revision: string;
  };
  const segmented = (await runner.invoke('segmentMedia', job)) as { manifestKey: string; batches: number[] };
  await Promise.all(
    segmented.batches.map((batch) => runner.invoke('packageBatch', { videoId: job.videoId, revision: job.revision, batch })),
  );
  const offsets = (await runner.invoke('computeOffsets', { job, manifestKey: segmented.manifestKey, batches: segmented.batches })) as {
    offsetsKey: string;
  };
  const playlist = (await runner.invoke('writePlaylist', { job, offsetsKey: offsets.offsetsKey })) as {
    playlistKey: string;
    durationSeconds: number;
  };
  const route = (await runner.invoke('registerRoute', { job, playlist, offsetsKey: offsets.offsetsKey })) as {
    videoId: string;
    segmentCount: number;
    durationSeconds: number;
    packages: number;
  };
  return { job, route };
}

async function upload(key: string, file: string) {
  await user.send(new PutObjectCommand({ Bucket: buckets.input, Key: key, Body: readFileSync(file) }));
}

describe('the deployed functions on emulated AWS', () => {
  it(`run on Node ${lambdaNode() === process.execPath ? process.versions.node : '22'} from their bundles alone, with their template environment`, async () => {
    expect(runner.functions.size).toBe(9);
    // A malformed event is refused by name, as the state machine sees it.
    await expect(runner.invoke('writePlaylist', {})).rejects.toMatchObject({ name: 'InvalidRequest' });
  });

  it("convert an upload whose name has spaces through every Task, the layer's ffmpeg reading a presigned URL on a host name", async () => {
    const key = 'Lecture 1.MP4';
    await upload(key, makeVideo(join(scratch, 'lecture.mp4'), { seconds: 12, size: '320x180' }));
    const { route } = await runTasks(key);
    expect(route).toMatchObject({ videoId: videoIdFor(key), segmentCount: 3, packages: 1 });
    const created = [...lambda.functions.values()].map((f) => f.configuration);
    expect(created.map((c) => c.FunctionName)).toEqual([`lambda-hls-${STAGE}-seg-${videoIdFor(key)}-abcd1234-0`]);
    // Never invoked: on the runtime AWS lets us create longest.
    expect(created[0]).toMatchObject({ Runtime: 'provided.al2023', Handler: expect.any(String) });
  });

  it("serves the playlist and answers a segment with a 302 to the package's presigned code URL, which serves the range without CORS", async () => {
    const videoId = videoIdFor('Lecture 1.MP4');
    const playlist = (await runner.invoke('serveSegment', {
      rawPath: `/v/${videoId}/index.m3u8`,
      requestContext: { http: { method: 'GET' } },
    })) as {
      statusCode: number;
      body: string;
    };
    expect(playlist.statusCode).toBe(200);
    const range = /#EXT-X-BYTERANGE:(\d+)@(\d+)/.exec(playlist.body)!;
    const segment = (await runner.invoke('serveSegment', {
      rawPath: `/v/${videoId}/0.ts`,
      requestContext: { http: { method: 'GET' } },
    })) as {
      statusCode: number;
      headers: Record<string, string>;
    };
    expect(segment.statusCode).toBe(302);
    const location = new URL(segment.headers.Location!);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('600');
    const [length, offset] = [Number(range[1]), Number(range[2])];
    const bytes = await fetch(location, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
    expect(bytes.status).toBe(206);
    expect(bytes.headers.get('access-control-allow-origin')).toBeNull();
    const body = Buffer.from(await bytes.arrayBuffer());
    expect(body.length).toBe(length);
    for (let at = 0; at < body.length; at += 188) expect(body[at]).toBe(0x47);
  });

  it('converts an mp3 to audio-only segments through the same functions', async () => {
    const key = 'podcast episode.mp3';
    await upload(key, makeMp3(join(scratch, 'podcast.mp3'), 8));
    const { route } = await runTasks(key);
    expect(route.segmentCount).toBeGreaterThanOrEqual(2);
    expect(route.durationSeconds).toBeCloseTo(8, 0);
  });

  it('ends a bad input in ValidateInput with its error name and a cause a person reads', async () => {
    const key = 'notes.mp4';
    await user.send(new PutObjectCommand({ Bucket: buckets.input, Key: key, Body: 'just some notes\n' }));
    const failed = await runner.invoke('validateInput', { source: { key }, revision: 'abcd1234' }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(InvocationError);
    expect(failed).toMatchObject({ name: 'NotMedia', errorMessage: expect.stringMatching(/^"notes.mp4": ffprobe cannot read it/) });
  });
});
