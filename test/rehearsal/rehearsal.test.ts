// The AWS rehearsal: what `serverless package` writes — each function's bundle, the ffmpeg layer,
// the environment the template gives each function — run on emulated AWS on this machine, reached
// by host name through the standard AWS_ENDPOINT_URL_<SERVICE> variables. The product's code does
// not know it is rehearsing.
import './support/hosts.cjs'; // this process reaches the emulated services by name too
import { execFile, spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetAccountSettingsCommand, GetFunctionCommand, GetFunctionConcurrencyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { storedEventsFromHistory } from '../../src/adapters/aws/history';
import { executionStats, failedState, summarizeStates } from '../../src/core/history';
import { keys, parseExecutionName, videoIdFor as videoIdUnder } from '../../src/core/naming';
import { checkPlaylist } from '../../src/core/playlist';
import { ROUTE_TTL_MS } from '../../src/playback/routes';
import { DIRECT_UPLOAD_BYTES, segmentEntryName } from '../../src/core/packing';
import { crc32, layoutStoredZip } from '../../src/core/zip';
import { conversionProgress } from '../../cli/progress';
import { rawGet } from '../support/raw-http';
import { launchChromium, playedToEnd, type PlayerState, seekAndResume } from '../support/browser';
import { framesOf, gstreamerFrames, PLAYER, VLC_UNSHOWN_LAST_FRAMES, videoStreamOf, vlcFrames } from '../support/player';
import {
  CONVERSION_STATES,
  TRANSCODE_STATES,
  dashManifest,
  ffmpeg,
  makeCaptionedVideo,
  makeMp3,
  makeVideo,
  recordingListener,
  removeDir,
  rotateMp4,
  tempDir,
  writeText,
} from '../support/fixtures';
import { AccountConcurrency } from './support/concurrency';
import { checkRuntime, FunctionRunner, HOSTS, type InvocationError, lambdaNode, nodeMajor, roleCredentials } from './support/functions';
import { startApi, type ApiEmulator } from './support/api';
import { startFunctionUrls, type FunctionUrlEmulator } from './support/function-urls';
import { startCloudFormation, type CloudFormationEmulator } from './support/cloudformation';
import { Iam } from './support/iam';
import { CREATE_PROFILES, type CreateProfile, REQUEST_LIMIT, startLambda, type LambdaEmulator } from './support/lambda';
import { startS3, type S3Emulator } from './support/s3';
import { startSqs, type SqsEmulator } from './support/sqs';
import { asyncInvoker, type AsyncInvoker } from './support/async-invoke';
import { emulatedAccount, packageStack, resolve, resourcesOfType, type Account, type Template } from './support/stack';
import { startStepFunctions, type StepFunctionsEmulator } from './support/stepfunctions';

const STAGE = 'rehearsal';
/** The stack is deployed with a video id secret, as a user may: every id below is the one it makes. */
const VIDEO_ID_SECRET = 'rehearsal-secret-5b1e0c9a';
const SCHEME = { secret: VIDEO_ID_SECRET, functionPrefix: `lambda-hls-${STAGE}-seg-` };
const videoIdFor = (key: string) => videoIdUnder(key, SCHEME);
const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'lambda-hls.js');

const CODE_BUCKET = 'awslambda-us-east-1-tasks';

let scratch: string;
let template: Template;
let account: Account;
let s3: S3Emulator;
let lambda: LambdaEmulator;
let runner: FunctionRunner;
let states: StepFunctionsEmulator;
let api: ApiEmulator;
let functionUrls: FunctionUrlEmulator;
let cloudFormation: CloudFormationEmulator;
let iam: Iam;
let sqs: SqsEmulator;
let asyncInvocations: AsyncInvoker;
const people = { accessKeyId: 'AKIAREHEARSALUSER', secretAccessKey: 'rehearsal-user' };
let user: S3Client;
let sfn: SFNClient;
let machineArn: string;
/** What start-conversion logged, as CloudWatch would show it. */
const notifications: unknown[] = [];
/** The S3 events as delivered, in the order of `notifications`. */
const deliveredEvents: unknown[] = [];
let buckets: { input: string; work: string; output: string };
/** The account's Lambda concurrency: AWS's default quota, until a test makes it a new account's. */
const concurrency = new AccountConcurrency(1000);
// deploy/ is the framework's CommonJS: the plugin's deploy check, called here with the SDK on the emulated account.
const { checkReservations, reservationsOf } = require('../../deploy/concurrency.js') as {
  checkReservations(
    template: Template,
    lambda: { accountSettings(): Promise<unknown>; functionConcurrency(name: string): Promise<number | undefined> },
    region: string,
  ): Promise<unknown>;
  reservationsOf(template: Template): unknown[];
};

beforeAll(async () => {
  scratch = tempDir('rehearsal');
  // The CLI as a user runs it: built once, here, before any emulator serves (its build blocks).
  expect(spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT }).status).toBe(0);
  api = await startApi((arn, event) => runner.invoke(arn, event));
  functionUrls = await startFunctionUrls((arn, event, onChunk) => runner.invoke(arn, event, onChunk));
  const emulated = emulatedAccount(STAGE, '', 0, 0);
  sqs = await startSqs({ region: emulated.region, account: emulated.account, iam: () => iam });
  account = emulatedAccount(STAGE, api.endpoint, functionUrls.port, sqs.port);
  // Playback limits low enough that a test can reach them (the defaults are 100/s, burst 200, 20 at once).
  template = packageStack(STAGE, join(scratch, 'out'), scratch, {
    playbackRateLimit: '20',
    playbackBurstLimit: '100',
    serveSegmentConcurrency: '4',
    videoIdSecret: VIDEO_ID_SECRET,
  });
  const named = Object.fromEntries(resourcesOfType(template, account, 'AWS::S3::Bucket').map(([id, p]) => [id, p.BucketName as string]));
  buckets = { input: named.InputBucket!, work: named.WorkBucket!, output: named.OutputBucket! };
  const roles = resourcesOfType(template, account, 'AWS::IAM::Role').map(([id]) => id);
  const lambdaService = { accessKeyId: 'AKIALAMBDASERVICE', secretAccessKey: 'rehearsal-lambda' };
  // Every call is evaluated against the template's policies: the roles' and the buckets'.
  iam = new Iam(template, account, [
    { accessKeyId: people.accessKeyId, name: 'rehearsal-admin' },
    { accessKeyId: lambdaService.accessKeyId, name: 'lambda.amazonaws.com' },
  ]);
  for (const [, queue] of resourcesOfType(template, account, 'AWS::SQS::Queue')) sqs.createQueue(String(queue.QueueName));
  // S3 invokes start-conversion asynchronously: Lambda's retries and on-failure destination apply.
  asyncInvocations = asyncInvoker({
    template,
    account,
    find: (key) => runner.find(key),
    invoke: (key, event) => runner.invoke(key, event),
    sqs,
  });
  mkdirSync(join(scratch, 's3'));
  s3 = await startS3({
    directory: join(scratch, 's3'),
    buckets: [...Object.values(buckets), CODE_BUCKET],
    credentials: [people, lambdaService, ...roles.map(roleCredentials)],
    // The input bucket's notification (deploy/stack.js) invokes start-conversion.
    notifying: [buckets.input],
    onObjectCreated: (event) => {
      deliveredEvents.push(event);
      notifications.push(asyncInvocations.invoke('startConversion', event));
    },
    iam,
  });
  lambda = await startLambda({
    account: account.account,
    region: account.region,
    s3Endpoint: s3.pathStyleEndpoint,
    codeBucket: CODE_BUCKET,
    credentials: lambdaService,
    iam,
    concurrency,
  });
  const [[machineId, machine]] = resourcesOfType(template, account, 'AWS::StepFunctions::StateMachine') as [
    [string, { DefinitionString: string }],
  ];
  machineArn = resolve(template, account, { Ref: machineId }) as string;
  let invoke: (arn: string, input: unknown) => Promise<unknown> = async () => undefined;
  states = await startStepFunctions({
    region: account.region,
    account: account.account,
    machine: { arn: machineArn, definition: machine.DefinitionString },
    invoke: (arn, input) => invoke(arn, input),
    idle: () => runner.idle(),
    iam,
    machineRoleKey: roleCredentials(
      String(resolve(template, account, template.Resources[machineId]!.Properties.RoleArn))
        .split('/')
        .pop()!,
    ).accessKeyId,
  });
  runner = new FunctionRunner({
    account: concurrency,
    packaged: join(scratch, 'out'),
    root: join(scratch, 'deployed'),
    lambdaEnvironment: {
      AWS_REGION: account.region,
      AWS_DEFAULT_REGION: account.region,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
      AWS_ENDPOINT_URL_SFN: states.endpoint,
    },
  });
  runner.deploy(template, account);
  api.route(template, account);
  functionUrls.route(template, account);
  invoke = (arn, input) => runner.invoke(arn, input);
  sfn = new SFNClient({ region: account.region, endpoint: states.endpoint, credentials: people });
  cloudFormation = await startCloudFormation(template, account);
  user = new S3Client({ region: account.region, endpoint: s3.endpoint, credentials: people });
}, 300_000);

afterAll(async () => {
  await states?.settled();
  await states?.close();
  await api?.close();
  await functionUrls?.close();
  await cloudFormation?.close();
  await runner?.close();
  await lambda?.close();
  await s3?.close();
  await sqs?.close();
  removeDir(scratch);
});

/** Uploads a file to the input bucket; the notification starts its execution. Resolves once it has ended. */
async function convertByUpload(key: string, file: string) {
  return finished(await uploadStarting(key, file));
}

/** Uploads a file; resolves with the execution its notification started (named after the upload's sequencer, which S3 alone knows). */
async function uploadStarting(key: string, file: string): Promise<string> {
  const before = notifications.length;
  await user.send(new PutObjectCommand({ Bucket: buckets.input, Key: key, Body: readFileSync(file) }));
  while (notifications.length === before) await new Promise((resolve) => setTimeout(resolve, 10));
  const [outcome] = (await notifications[before]) as { executionName?: string }[];
  if (!outcome?.executionName) throw new Error(`the upload of ${key} started nothing: ${JSON.stringify(outcome)}`);
  return outcome.executionName;
}

/** Uploads a file and expects it converted, a player decoding every frame of it from the served playlist. */
async function convertedAndPlayed(key: string, file: string) {
  const conversion = await convertByUpload(key, file);
  expect(conversion.described.status).toBe('SUCCEEDED');
  await expectEveryFramePlayed(key, file);
  return conversion;
}

/** A player (Debian's ffprobe) decodes every frame of the source from the served playlist. */
async function expectEveryFramePlayed(key: string, file: string) {
  expect(await framesOf(PLAYER, `${playbackBaseUrl()}/v/${videoIdFor(key)}/index.m3u8`)).toBe(await framesOf(PLAYER, file));
}

/**
 * Holds the RegisterRoute of one revision at its read of the offsets (after it has read the route,
 * before it writes it) until `release`: what makes a run register after another, or after a delete.
 */
function holdRegistration(videoId: string, revision: string) {
  const registerer = roleCredentials(runner.find('registerRoute').role).accessKeyId;
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let reach = () => {};
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  const stop = s3.failing((r) => {
    if (r.accessKeyId !== registerer || r.action !== 's3:GetObject' || r.key !== keys.offsets(videoId, revision)) return undefined;
    reach();
    return { until: held };
  });
  return {
    reached,
    release: () => {
      release();
      stop();
    },
  };
}

/** One execution once it has ended, while others may still run. */
async function finishedAlone(executionName: string) {
  const executionArn = `${machineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
  while ((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status === 'RUNNING') {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return finished(executionName, { alone: true });
}

/** The newest attempt of an execution name, once every execution has ended (or, `alone`, once it has). */
async function finished(executionName: string, { alone = false } = {}) {
  if (!alone) {
    await Promise.all(notifications);
    await states.settled();
  }
  const attempts = [...states.executions.values()].filter((e) => e.name === executionName || e.name.startsWith(`${executionName}-`));
  const newest = attempts.sort((a, b) => b.startDate.getTime() - a.startDate.getTime())[0];
  if (!newest)
    throw new Error(`no execution ${executionName} started; start-conversion answered ${JSON.stringify(await Promise.all(notifications))}`);
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn: newest.arn }));
  const history: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn: newest.arn, nextToken, maxResults: 20 }));
    history.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return { described, history, events: storedEventsFromHistory(history, conversionProgress()) };
}

/**
 * Uploads a file (its own run converts it with the defaults), then converts it again by hand with
 * 1-s segments and one package per segment — as a user would set LAMBDA_HLS_PACKAGE_BYTES in
 * serverless.yml — while CreateFunction behaves as `profile` says.
 */
async function convertOnePackagePerSegment(key: string, file: string, name: string, profile: CreateProfile) {
  await convertByUpload(key, file);
  const restore = runner.configure('segmentMedia', { LAMBDA_HLS_PACKAGE_BYTES: '1' });
  lambda.createProfile = profile;
  try {
    await sfn.send(
      new StartExecutionCommand({ stateMachineArn: machineArn, name, input: JSON.stringify({ key, options: { segmentSeconds: 1 } }) }),
    );
    return await finished(name);
  } finally {
    lambda.createProfile = CREATE_PROFILES.aws;
    restore();
  }
}

/** What the deploy check reads from the account, through the SDK as the deploying user. */
function accountReads() {
  const client = new LambdaClient({ region: account.region, endpoint: lambda.endpoint, credentials: people });
  return {
    accountSettings: () => client.send(new GetAccountSettingsCommand({})),
    functionConcurrency: async (name: string) =>
      (await client.send(new GetFunctionConcurrencyCommand({ FunctionName: name }))).ReservedConcurrentExecutions,
  };
}

/** The path of a video's first segment, as its playlist names it (`/v/<id>/<revision>/0.ts`). */
async function firstSegmentPath(videoId: string): Promise<string> {
  const playlist = (await runner.invoke('serveSegment', {
    rawPath: `/v/${videoId}/index.m3u8`,
    requestContext: { http: { method: 'GET' } },
  })) as {
    body: string;
  };
  return `/v/${videoId}/${/^[^#\s].*\.ts$/m.exec(playlist.body)![0]}`;
}

async function leftIn(bucket: string, prefix: string): Promise<string[]> {
  const out = await user.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '');
}

describe('the deployed functions on emulated AWS', () => {
  it("deploy on an account of 1,000 concurrent executions: its reservation (serve-segment's 4) passes the deploy check and is made", async () => {
    expect(await checkReservations(template, accountReads(), account.region)).toMatchObject({ account: { limit: 1000, unreserved: 996 } });
    expect([...concurrency.reserved]).toEqual([[runner.find('serveSegment').name, 4]]);
  });

  it("run on the deployed runtime's Node from their bundles alone, with their template environment, and never on another Node", async () => {
    const runtimes = resourcesOfType(template, account, 'AWS::Lambda::Function').map(([, props]) => String(props.Runtime));
    expect(new Set(runtimes)).toEqual(new Set(['nodejs24.x']));
    expect([runner.nodeMajor, nodeMajor(lambdaNode())]).toEqual([24, 24]);
    // A stack on another runtime than the rehearsal's Node is refused, not rehearsed on the wrong one.
    expect(() => checkRuntime(['nodejs22.x'], lambdaNode())).toThrow("the stack deploys nodejs22.x but the rehearsal's Node is 24");
    expect(runner.functions.size).toBe(14);
    // A malformed event is refused by name, as the state machine sees it.
    await expect(runner.invoke('writePlaylist', {})).rejects.toMatchObject({ name: 'InvalidRequest' });
  });

  it("converts an upload whose name has spaces: the notification starts the compiled state machine, whose Tasks run their bundles (the layer's ffmpeg reading a presigned URL on a host name)", async () => {
    const key = 'Lecture 1.MP4';
    const { described, events } = await convertByUpload(key, makeVideo(join(scratch, 'lecture.mp4'), { seconds: 30, size: '320x180' }));
    expect({ status: described.status, failure: failedState(events) }).toEqual({ status: 'SUCCEEDED', failure: undefined });
    // 30 s in the default 6-s segments; 320x180 is below every rung but the cellular one: copied, one rendition.
    expect(JSON.parse(described.output!)).toMatchObject({ videoId: videoIdFor(key), segmentCount: 5, packages: 1 });
    expect(events.filter((e) => e.type === 'StateEntered' && e.index === undefined).map((e) => e.state)).toEqual(CONVERSION_STATES);
    const created = [...lambda.functions.values()].map((f) => f.configuration);
    const { revision } = JSON.parse(described.output!) as { revision: string };
    expect(created.map((c) => c.FunctionName)).toEqual([`lambda-hls-${STAGE}-seg-${videoIdFor(key)}-${revision}-0`]);
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
    const uri = /^[^#\s].*\.ts$/m.exec(playlist.body)![0];
    expect(uri).toMatch(/^[0-9a-f]{8}\/0\.ts$/); // the revision it belongs to, then the package
    const segment = (await runner.invoke('serveSegment', {
      rawPath: `/v/${videoId}/${uri}`,
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

  it('refuses what S3 refuses: a code URL whose signature was changed or that is past its expiry, a request signed with the wrong secret, a body unlike its checksum', async () => {
    const segment = (await runner.invoke('serveSegment', {
      rawPath: await firstSegmentPath(videoIdFor('Lecture 1.MP4')),
      requestContext: { http: { method: 'GET' } },
    })) as {
      headers: Record<string, string>;
    };
    const good = new URL(segment.headers.Location!);
    expect((await fetch(good, { headers: { Range: 'bytes=0-29' } })).status).toBe(206);
    const tampered = new URL(good);
    tampered.searchParams.set('X-Amz-Signature', '0'.repeat(64));
    expect(await (await fetch(tampered)).text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    // Signed eleven minutes ago for ten: what a player holding a stale redirect gets.
    const signingDate = new Date(Date.now() - 11 * 60_000);
    const stale = await getSignedUrl(user, new GetObjectCommand({ Bucket: buckets.input, Key: 'Lecture 1.MP4' }), {
      expiresIn: 600,
      signingDate,
    });
    const answer = await fetch(stale);
    expect({ status: answer.status, body: await answer.text() }).toEqual({
      status: 403,
      body: expect.stringContaining('Request has expired'),
    });
    const impostor = new S3Client({
      region: account.region,
      endpoint: s3.endpoint,
      credentials: { ...people, secretAccessKey: 'guessed' },
    });
    await expect(impostor.send(new ListObjectsV2Command({ Bucket: buckets.input }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
    await expect(
      user.send(new PutObjectCommand({ Bucket: buckets.input, Key: 'damaged.mp4', Body: 'bytes', ChecksumCRC32: 'AAAAAA==' })),
    ).rejects.toMatchObject({ name: 'BadDigest' });
  });

  it('refuses what AWS refuses before a run exists: an execution input over 256 KiB or not JSON; and never judges one S3 key and serves another', async () => {
    const before = states.executions.size;
    const start = (input: string, name: string) => sfn.send(new StartExecutionCommand({ stateMachineArn: machineArn, name, input }));
    await expect(start(JSON.stringify({ key: 'Lecture 1.MP4', padding: 'x'.repeat(300_000) }), 'too-large')).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(start('{"key": "Lecture 1.MP4"', 'not-json')).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    expect(states.executions.size).toBe(before);
    // A key whose parts climb (`../<work bucket>/…`), presigned by a role that may read only the
    // input bucket: S3 reads it as a key of the input bucket (there is none such), never the work
    // bucket's object that a path resolver would reach.
    const reader = roleCredentials(runner.find('validateInput').role);
    const asValidator = new S3Client({ region: account.region, endpoint: s3.endpoint, credentials: reader });
    const secret = `${videoIdFor('Lecture 1.MP4')}/private.bin`;
    await user.send(new PutObjectCommand({ Bucket: buckets.work, Key: secret, Body: 'work bucket only' }));
    const climbing = await getSignedUrl(asValidator, new GetObjectCommand({ Bucket: buckets.input, Key: `../${buckets.work}/${secret}` }));
    const at = /^http:\/\/([^/:]+):(\d+)(\/.*)$/.exec(climbing)!;
    expect(at[3]).toMatch(/^\/\.\.\//); // sent as it is, not resolved
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        { host: '127.0.0.1', port: Number(at[2]), path: at[3], headers: { host: `${at[1]}:${at[2]}` } },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      request.on('error', reject).end();
    });
    expect(answer.body).not.toContain('work bucket only');
    expect(answer.status).toBeGreaterThanOrEqual(400);
    await user.send(new DeleteObjectCommand({ Bucket: buckets.work, Key: secret }));
  });

  it("plays through the stack's PlaybackBaseUrl: an independent player (Debian's ffprobe) decodes every frame of the source, through the API's 302s to the code URLs", async () => {
    const playlist = `${playbackBaseUrl()}/v/${videoIdFor('Lecture 1.MP4')}/index.m3u8`;
    expect(await framesOf(PLAYER, playlist)).toBe(await framesOf(PLAYER, join(scratch, 'lecture.mp4')));
  });

  it('answers both playlists gzip-encoded when asked (Apple HLS authoring 10.1): through API Gateway base64-encoded, through the streaming function URL as bytes', async () => {
    const videoId = videoIdFor('Lecture 1.MP4');
    for (const url of [`${playbackBaseUrl()}/v/${videoId}/index.m3u8`, `${deliveryBaseUrl()}v/${videoId}/index.m3u8`]) {
      const plain = await rawGet(url);
      const gzipped = await rawGet(url, { 'Accept-Encoding': 'gzip' });
      expect([url, plain.status, plain.headers['content-encoding'], gzipped.status, gzipped.headers['content-encoding']]).toEqual([
        url,
        200,
        undefined,
        200,
        'gzip',
      ]);
      expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
      expect(plain.body.toString()).toMatch(/^#EXTM3U\n/);
    }
  });

  it('plays the same playlist in VLC and GStreamer: every frame (VLC: all but the last, which it shows of no HLS stream), through the 302s to the code bucket', async () => {
    const playlist = `${playbackBaseUrl()}/v/${videoIdFor('Lecture 1.MP4')}/index.m3u8`;
    const sourceFrames = await framesOf(PLAYER, join(scratch, 'lecture.mp4'));
    expect(await gstreamerFrames(playlist)).toBe(sourceFrames);
    expect(await vlcFrames(playlist)).toBe(sourceFrames - VLC_UNSHOWN_LAST_FRAMES);
  });

  it("delivers each segment's bytes on the stack's DeliveryBaseUrl with CORS, and nothing else: no unregistered segment, no range outside a segment", async () => {
    const videoId = videoIdFor('Lecture 1.MP4');
    const base = deliveryBaseUrl();
    expect(base).toMatch(/^http:\/\/[a-z0-9]+\.lambda-url\.us-east-1\.localhost:\d+\/$/);
    const playlistAnswer = await fetch(`${base}v/${videoId}/index.m3u8`);
    expect(playlistAnswer.headers.get('access-control-allow-origin')).toBe('*');
    // The redirect playlist's segments, durations and order; each a resource of its own on this origin.
    const proxiedText = await playlistAnswer.text();
    expect(proxiedText).not.toContain('#EXT-X-BYTERANGE');
    // Nothing wrong with it but what a playlist of byte ranges must have (the checker is for those).
    const proxied = checkPlaylist(proxiedText);
    expect(proxied.problems.filter((p) => !/EXT-X-BYTERANGE|byte range/.test(p))).toEqual([]);
    const redirect = checkPlaylist(await (await fetch(`${playbackBaseUrl()}/v/${videoId}/index.m3u8`)).text());
    expect(proxied.segments.map((s) => s.duration)).toEqual(redirect.segments.map((s) => s.duration));
    const revision = redirect.segments[0]!.uri.split('/')[0]!;
    expect(proxied.segments.map((s) => s.uri)).toEqual(redirect.segments.map((_, i) => `${revision}/s${i}.ts`));
    /** A segment's bytes as the 302 route leads a player to them. */
    const direct = async (i: number) => {
      const { uri, offset, length } = redirect.segments[i]!;
      const location = (await fetch(`${playbackBaseUrl()}/v/${videoId}/${uri}`, { redirect: 'manual' })).headers.get('location')!;
      return Buffer.from(await (await fetch(location, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } })).arrayBuffer());
    };
    const segment = (i: number, range?: string) =>
      fetch(`${base}v/${videoId}/${revision}/s${i}.ts`, range ? { headers: { Range: range } } : {});
    for (let i = 0; i < redirect.segments.length; i++) {
      const whole = await segment(i);
      expect([i, whole.status, whole.headers.get('access-control-allow-origin'), whole.headers.get('content-type')]).toEqual([
        i,
        200,
        '*',
        'video/mp2t',
      ]);
      expect(Buffer.from(await whole.arrayBuffer())).toEqual(await direct(i));
    }
    // A range within a segment, as Chromium's own player and a resuming read ask.
    const { length } = redirect.segments[1]!;
    const part = await segment(1, 'bytes=188-563');
    expect([part.status, part.headers.get('content-range'), part.headers.get('access-control-expose-headers')]).toEqual([
      206,
      `bytes 188-563/${length}`,
      expect.stringContaining('Content-Range'),
    ]);
    expect(Buffer.from(await part.arrayBuffer())).toEqual((await direct(1)).subarray(188, 564));
    // Outside the segment: refused, and never read from the package.
    const outside = await segment(1, `bytes=${length}-`);
    expect([outside.status, outside.headers.get('content-range'), outside.headers.get('access-control-allow-origin')]).toEqual([
      416,
      `bytes */${length}`,
      '*',
    ]);
    // Not registered: another video, another revision, a segment the revision does not have, a package URI.
    for (const path of [
      `v/${videoIdFor('never uploaded.mp4')}/${revision}/s0.ts`,
      `v/${videoId}/00000000/s0.ts`,
      `v/${videoId}/${revision}/s${redirect.segments.length}.ts`,
      `v/${videoId}/${redirect.segments[0]!.uri}`,
      `v/${videoId}/..%2F${revision}/s0.ts`,
    ]) {
      expect([path, (await fetch(`${base}${path}`)).status]).toEqual([path, 404]);
    }
    expect((await fetch(`${base}v/${videoId}/index.m3u8`, { method: 'DELETE' })).status).toBe(405);
  });

  it('opens the hosted page of a video in Chromium, whose player plays it through the delivery route to the end and after a seek, the code bucket sending no CORS', async () => {
    const videoId = videoIdFor('Lecture 1.MP4');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const requested: string[] = [];
      page.on('request', (request) => requested.push(request.url()));
      const answer = await page.goto(`${playbackBaseUrl()}/watch/${videoId}`);
      expect(answer?.status()).toBe(200);
      expect(await page.title()).toBe('Lecture 1.MP4');
      await page.waitForFunction(() => (globalThis as unknown as { lambdaHls?: PlayerState }).lambdaHls?.ready === true);
      const result = await playedToEnd(page);
      const choice = await page.evaluate(() => (globalThis as unknown as { lambdaHls: PlayerState }).lambdaHls.choice);
      expect(choice).toMatchObject({ engine: 'hls.js', source: 'proxied' });
      expect(result).toMatchObject({ ended: true, fatal: null });
      expect(result.currentTime).toBeCloseTo(30, 0);
      expect(result.decodedFrames!).toBeGreaterThan(0.9 * (await framesOf(PLAYER, join(scratch, 'lecture.mp4'))));
      const resumed = await seekAndResume(page, 15);
      expect(Math.abs(resumed.seekedAt - 15)).toBeLessThan(0.5);
      // Every byte came through the delivery route; the code bucket was never asked.
      expect(requested.some((url) => url.startsWith(`${deliveryBaseUrl()}v/${videoId}/`) && url.endsWith('.ts'))).toBe(true);
      expect(requested.filter((url) => url.includes(CODE_BUCKET))).toEqual([]);
      // MakePreviews's pictures, through API Gateway (base64-encoded bytes): the poster the page shows, and the storyboard it loaded.
      const poster = await page.evaluate(async () => {
        type Picture = { src: string; naturalWidth: number; decode(): Promise<void> };
        const scope = globalThis as unknown as { lambdaHls: { video: { poster: string } }; Image: new () => Picture; location: string };
        const url = new URL(scope.lambdaHls.video.poster, String(scope.location)).href;
        const image = new scope.Image();
        image.src = url;
        await image.decode();
        return { path: new URL(url).pathname, width: image.naturalWidth };
      });
      expect(poster).toEqual({ path: `/v/${videoId}/poster.jpg`, width: expect.any(Number) });
      expect(poster.width).toBeGreaterThan(100);
      const cues = await page.evaluate(
        () => (globalThis as unknown as { lambdaHls: { scrub: { cues: unknown[] } } }).lambdaHls.scrub.cues.length,
      );
      expect(cues).toBeGreaterThan(10);
      const answerOf = await fetch(`${playbackBaseUrl()}/v/${videoId}/poster.jpg`);
      expect([answerOf.status, answerOf.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
      expect((await answerOf.arrayBuffer()).byteLength).toBeGreaterThan(1000);
      // An unknown video gets a page that says so.
      const missing = await page.goto(`${playbackBaseUrl()}/watch/${videoIdFor('never uploaded.mp4')}`);
      expect([missing?.status(), await page.textContent('body')]).toEqual([404, expect.stringContaining('No video has this address')]);
    } finally {
      await browser.close();
    }
  });

  it("adds captions: a SubRip file uploaded before its video and the video's own mov_text track, as subtitle renditions served through API Gateway and the delivery route", async () => {
    // 640x360: a ladder (its copy and 234p), whose multivariant playlist names the subtitles.
    const source = makeCaptionedVideo(join(scratch, 'captioned.mp4'), {
      seconds: 8,
      size: '640x360',
      srt: '1\n00:00:03,000 --> 00:00:04,000\nGuten Tag\n',
      language: 'deu',
    });
    // The sidecar first: its own notification starts nothing (not a video).
    const before = notifications.length;
    await user.send(
      new PutObjectCommand({
        Bucket: buckets.input,
        Key: 'talks/captioned.en.srt',
        Body: '1\r\n00:00:01,000 --> 00:00:02,500\r\nHello\r\n',
      }),
    );
    while (notifications.length === before) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await notifications[before]).toEqual([expect.objectContaining({ result: 'ignored' })]);
    const { described, events } = await convertByUpload('talks/captioned.mp4', source);
    expect({ status: described.status, failure: failedState(events) }).toEqual({ status: 'SUCCEEDED', failure: undefined });
    const made = events.find((e) => e.type === 'StateExited' && e.state === 'MakeCaptions');
    expect(made).toBeDefined();
    const videoId = videoIdFor('talks/captioned.mp4');
    const multivariant = await (await fetch(`${playbackBaseUrl()}/v/${videoId}/index.m3u8`)).text();
    const uris = [...multivariant.matchAll(/TYPE=SUBTITLES,GROUP-ID="subs",NAME="([^"]+)",LANGUAGE="([^"]+)".*URI="([^"]+)"/g)];
    expect(uris.map((m) => [m[1], m[2]])).toEqual([
      ['English', 'en'],
      ['Deutsch', 'de'],
    ]);
    for (const [base, name] of [
      [`${playbackBaseUrl()}/`, 'API Gateway'],
      [deliveryBaseUrl(), 'the delivery route'],
    ] as const) {
      const texts: string[] = [];
      for (const m of uris) {
        const playlist = await fetch(`${base}v/${videoId}/${m[3]}`);
        expect([name, playlist.status]).toEqual([name, 200]);
        const first = `${base}v/${videoId}/${m[3]!.replace(/\.m3u8$/, '/0.vtt')}`;
        const segment = await fetch(first);
        expect([name, segment.status, segment.headers.get('content-type')]).toEqual([name, 200, 'text/vtt; charset=utf-8']);
        texts.push(await segment.text());
      }
      expect(texts[0]).toContain('00:00:01.000 --> 00:00:02.500\nHello');
      expect(texts[1]).toContain('00:00:03.000 --> 00:00:04.000\nGuten Tag');
      expect(texts[0]).toMatch(/^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:\d+,LOCAL:00:00:00\.000\n/);
    }
  });

  it("bounds a flood of segment requests by the stage throttling (429) and serve-segment's reserved concurrency (500), then plays again", async () => {
    const segment = `${playbackBaseUrl()}${await firstSegmentPath(videoIdFor('Lecture 1.MP4'))}`;
    // A flood meets cold containers (a deploy, or an idle while): each starts before it answers, so
    // more than 4 are asked for at once. (Warm ones answer a cached segment in about a millisecond,
    // fast enough that a flood of 100 may never hold 4 at once: the throttling then never shows.)
    runner.configure('serveSegment', {})();
    const started = performance.now();
    const statuses = await Promise.all(
      Array.from({ length: 160 }, async () => {
        const response = await fetch(segment, { redirect: 'manual' });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const count = (status: number) => statuses.filter((s) => s === status).length;
    // Burst 100, refilled at 20 a second while the flood lasts: the rest are refused at the door.
    expect(count(429)).toBeGreaterThanOrEqual(160 - 100 - Math.ceil(20 * seconds));
    expect(count(429)).toBeGreaterThan(0);
    // Of those let in, no more than 4 ran at once; the others were throttled by Lambda.
    expect(count(500)).toBeGreaterThan(0);
    expect(count(302)).toBeGreaterThan(0);
    expect(count(302) + count(429) + count(500)).toBe(160);
    await new Promise((r) => setTimeout(r, 1_500)); // the bucket refills at 20 a second
    expect((await fetch(segment, { redirect: 'manual' })).status).toBe(302);
  });

  it('keeps answering the old playlist with its own bytes when a file is uploaded again with other content, and the new one plays', async () => {
    const key = 'Replaced.mp4';
    const videoId = videoIdFor(key);
    expect((await convertByUpload(key, makeVideo(join(scratch, 'replaced-1.mp4'), { seconds: 8, size: '160x90' }))).described.status).toBe(
      'SUCCEEDED',
    );
    const base = `${playbackBaseUrl()}/v/${videoId}`;
    const oldText = await (await fetch(`${base}/index.m3u8`)).text();
    /** What a player holding a playlist gets for its segments: each range's bytes through the API's 302. */
    const read = async (text: string) => {
      const check = checkPlaylist(text);
      const parts: Buffer[] = [];
      for (const segment of check.segments) {
        const redirect = await fetch(`${base}/${segment.uri}`, { redirect: 'manual' });
        expect([segment.uri, redirect.status]).toEqual([segment.uri, 302]);
        const range = `bytes=${segment.offset}-${segment.offset + segment.length - 1}`;
        parts.push(Buffer.from(await (await fetch(redirect.headers.get('location')!, { headers: { Range: range } })).arrayBuffer()));
      }
      return Buffer.concat(parts);
    };
    const oldBytes = await read(oldText);
    // The same name again, other content: a new revision is served; the old one is retired, not gone.
    expect(
      (await convertByUpload(key, makeVideo(join(scratch, 'replaced-2.mp4'), { seconds: 12, size: '320x180' }))).described.status,
    ).toBe('SUCCEEDED');
    // A warm serve-segment trusts the route record it read for ROUTE_TTL_MS.
    await new Promise((r) => setTimeout(r, ROUTE_TTL_MS + 200));
    const newText = await (await fetch(`${base}/index.m3u8`)).text();
    expect(newText).not.toBe(oldText);
    expect(await read(oldText)).toEqual(oldBytes);
    const played = join(scratch, 'replaced-played.ts');
    writeFileSync(played, await read(newText));
    expect(await framesOf(PLAYER, played)).toBe(await framesOf(PLAYER, join(scratch, 'replaced-2.mp4')));
    // A URI without its revision is not answered with these bytes: no playlist of this video ever
    // named one (both revisions name theirs), so it never existed (404, not "converted again").
    expect((await fetch(`${base}/0.ts`, { redirect: 'manual' })).status).toBe(404);
  });

  it("serves the later of two uploads of a key though the earlier's run registers last: that run fails Superseded, leaving nothing", async () => {
    const key = 'Two uploads.mp4';
    const videoId = videoIdFor(key);
    const earlier = makeVideo(join(scratch, 'two-uploads-1.mp4'), { seconds: 6, size: '160x90' });
    const later = makeVideo(join(scratch, 'two-uploads-2.mp4'), { seconds: 4, size: '320x180' });
    const first = await uploadStarting(key, earlier);
    const firstRevision = parseExecutionName(first)!.revision;
    const hold = holdRegistration(videoId, firstRevision);
    try {
      await hold.reached; // the earlier upload's run has read the route and is about to write it
      const second = await finishedAlone(await uploadStarting(key, later));
      expect(second.described.status).toBe('SUCCEEDED');
    } finally {
      hold.release();
    }
    const run = await finished(first);
    expect(failedState(run.events)).toMatchObject({ state: 'RegisterRoute', error: 'Superseded' });
    await new Promise((r) => setTimeout(r, ROUTE_TTL_MS + 200)); // what a warm serve-segment holds
    await expectEveryFramePlayed(key, later);
    expect([...lambda.functions.keys()].filter((name) => name.includes(firstRevision))).toEqual([]);
    expect(await leftIn(buckets.output, `v/${videoId}/${firstRevision}/`)).toEqual([]);
  });

  it('deletes a video while it converts: its run fails VideoDeleted, no route names a deleted function, and the same file uploaded again converts', async () => {
    const key = 'Deleted midway.mp4';
    const videoId = videoIdFor(key);
    const file = makeVideo(join(scratch, 'deleted-midway.mp4'), { seconds: 6, size: '160x90' });
    const name = await uploadStarting(key, file);
    const hold = holdRegistration(videoId, parseExecutionName(name)!.revision);
    try {
      await hold.reached; // its functions and playlist made, about to register
      expect((await cli(['delete', videoId])).code).toBe(0);
    } finally {
      hold.release();
    }
    const run = await finished(name);
    expect(failedState(run.events)).toMatchObject({ state: 'RegisterRoute', error: 'VideoDeleted' });
    expect([...lambda.functions.keys()].filter((fn) => fn.includes(videoId))).toEqual([]);
    expect((await fetch(`${playbackBaseUrl()}/v/${videoId}/index.m3u8`)).status).toBe(404);
    const listed = JSON.parse((await cli(['list', '--json'])).stdout) as { videoId: string }[];
    expect(listed.map((v) => v.videoId)).not.toContain(videoId);
    // Deleted, then the same bytes uploaded again: converted and served (the upload is a new revision).
    expect((await convertByUpload(key, file)).described.status).toBe('SUCCEEDED');
    await new Promise((r) => setTimeout(r, ROUTE_TTL_MS + 200)); // a warm serve-segment trusts the 404 it read for as long
    await expectEveryFramePlayed(key, file);
  });

  it("transcodes a video that is not H.264 with the layer's ffmpeg, and a player decodes every frame", async () => {
    const key = 'old camera.mp4';
    const file = makeVideo(join(scratch, 'old camera.mp4'), { seconds: 12, size: '320x240', videoCodec: 'mpeg4' });
    await convertedAndPlayed(key, file);
  });

  it('transcodes in chunks: SegmentMedia encodes the audio once, the EncodeChunks Map runs a task per chunk from its bundle, each reading its part of the presigned input, and a player decodes every frame', async () => {
    const key = 'long lecture.mp4';
    // 90 s of 6-s segments: chunks of 30 s (the shortest worth a task of its own), so three.
    const file = makeVideo(join(scratch, 'long lecture.mp4'), { seconds: 90, size: '160x90', videoCodec: 'mpeg4' });
    const { described, events, history } = await convertByUpload(key, file);
    expect(described.status).toBe('SUCCEEDED');
    expect(events.filter((e) => e.type === 'StateEntered' && e.index === undefined).map((e) => e.state)).toEqual(TRANSCODE_STATES);
    const encoded = summarizeStates(events).find((s) => s.state === 'EncodeChunks');
    expect(encoded).toMatchObject({ iterations: { started: 3, succeeded: 3, failed: 0 } });
    expect(encoded?.chunkSeconds).toHaveLength(3);
    expect(executionStats(events, history.length)).toMatchObject({ chunks: 3, segments: 15 });
    await expectEveryFramePlayed(key, file);
    // The chunks' audio parts are gone once joined; the segments and lists go with the work prefix.
    expect((await leftIn(buckets.work, `${videoIdFor(key)}/`)).filter((k) => k.includes('-audio.ts'))).toEqual([]);
  });

  it('makes the default ladder through the deployed bundles (the copy as its top rung, the rungs below encoded in chunks) and plays every rung through both routes', async () => {
    const key = 'ladder/talk.mp4';
    const file = makeVideo(join(scratch, 'ladder talk.mp4'), { seconds: 14, size: '854x480' });
    const { described } = await convertByUpload(key, file);
    expect(described.status).toBe('SUCCEEDED');
    const route = JSON.parse(described.output!) as { revision: string; renditions: { name: string; playlist: string; codecs: string }[] };
    expect(route.renditions.map((r) => r.name)).toEqual(['480p', '360p', '234p']);
    const frames = await framesOf(PLAYER, file);
    const videoId = videoIdFor(key);
    for (const base of [playbackBaseUrl(), deliveryBaseUrl()]) {
      const master = await (await fetch(`${base.replace(/\/$/, '')}/v/${videoId}/index.m3u8`)).text();
      expect(master.match(/#EXT-X-STREAM-INF:/g)).toHaveLength(3);
      expect(master.match(/#EXT-X-I-FRAME-STREAM-INF:/g)).toHaveLength(3);
    }
    for (const rung of route.renditions) {
      // Every rung decodes every frame through the API's 302s to the code URLs (Debian's ffprobe follows them)…
      const redirected = `${playbackBaseUrl().replace(/\/$/, '')}/v/${videoId}/${route.revision}/${rung.name}.m3u8`;
      expect(['302s', rung.name, await framesOf(PLAYER, redirected)]).toEqual(['302s', rung.name, frames]);
      // …and through the delivery route's bytes, each segment as a player fetches it (ffprobe cannot
      // resolve the emulated function URL's host name; Node can): the rung's segments in a row.
      const root = `${deliveryBaseUrl().replace(/\/$/, '')}/v/${videoId}/${route.revision}`;
      const proxied = await (await fetch(`${root}/${rung.name}.m3u8`)).text();
      const uris = proxied.split('\n').filter((line) => line.endsWith('.ts'));
      const bytes = await Promise.all(uris.map(async (uri) => Buffer.from(await (await fetch(`${root}/${uri}`)).arrayBuffer())));
      const played = join(scratch, `ladder-${rung.name}.ts`);
      writeFileSync(played, Buffer.concat(bytes));
      expect(['delivery route', rung.name, await framesOf(PLAYER, played)]).toEqual(['delivery route', rung.name, frames]);
    }
  });

  it("turns a portrait HDR phone clip upright and tone-maps it with the layer's ffmpeg, and the history says why", async () => {
    const key = 'phone/IMG_0042.MP4';
    const file = join(scratch, 'IMG_0042.MP4');
    ffmpeg([
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '2', '-c:v', 'libx265', '-pix_fmt', 'yuv420p10le'],
      ...['-x265-params', 'log-level=error', '-color_primaries', 'bt2020', '-color_trc', 'arib-std-b67', '-colorspace', 'bt2020nc'],
      ...['-tag:v', 'hvc1', file],
    ]);
    rotateMp4(file, 90);
    const { described, events } = await convertByUpload(key, file);
    expect(described.status).toBe('SUCCEEDED');
    // Below every rung but the cellular one: one rung at its own size, at most the source's own bit rate.
    expect(summarizeStates(events).find((s) => s.state === 'ValidateInput')?.notes).toEqual([
      expect.stringMatching(
        /^transcoding to H\.264: the source is HEVC; rotated 90°: turned upright; HDR \(HLG\): tone-mapped to SDR BT\.709; --ladder auto: 180p 180x320 \d+k$/,
      ),
    ]);
    expect(await videoStreamOf(PLAYER, `${playbackBaseUrl()}/v/${videoIdFor(key)}/index.m3u8`)).toMatchObject({
      width: 180,
      height: 320,
      pix_fmt: 'yuv420p',
      color_transfer: 'bt709',
      color_primaries: 'bt709',
    });
  });

  it('converts an mp3 uploaded the same way', async () => {
    const key = 'podcast episode.mp3';
    const { described } = await convertByUpload(key, makeMp3(join(scratch, 'podcast.mp3'), 25));
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output!).durationSeconds).toBeCloseTo(25, 0);
  });

  it('ends a DASH manifest uploaded as .mp4 in ValidateInput as NotMedia without fetching its link, leaving nothing behind', async () => {
    const listener = await recordingListener();
    try {
      const key = 'notes.mp4';
      const file = writeText(join(scratch, 'notes.mp4'), dashManifest(listener.base));
      const { described, events } = await convertByUpload(key, file);
      expect(described).toMatchObject({ status: 'FAILED', error: 'NotMedia' });
      expect(failedState(events)).toEqual({
        state: 'ValidateInput',
        error: 'NotMedia',
        cause: expect.stringMatching(/^"notes.mp4": it is not MP4 but a DASH manifest/),
      });
      expect(events.some((e) => e.type === 'StateEntered' && e.state === 'CleanUp')).toBe(true);
      expect(await leftIn(buckets.work, `${videoIdFor(key)}/`)).toEqual([]);
      expect([...lambda.functions.keys()].filter((name) => name.includes(videoIdFor(key)))).toEqual([]);
      expect(listener.requests).toEqual([]);
    } finally {
      await listener.close();
    }
  });

  it("logs one structured line per invocation, as an operator reads CloudWatch: a failed run's error name and cause under its execution, a refused playback request", async () => {
    type Line = { fn: string; unstructured?: string } & Record<string, unknown>;
    const lines = (): Line[] =>
      runner.logs.map(({ function: fn, line }) => {
        try {
          return { fn, ...(JSON.parse(line) as Record<string, unknown>) };
        } catch {
          return { fn, unstructured: line };
        }
      });
    // Nothing but structured lines from the product (the runtime's own warnings aside).
    expect(
      lines().filter(
        (l) => 'unstructured' in l && !/NodeVersionSupportWarning|node --trace-warnings|^\s|^\(node:/.test(String(l.unstructured)),
      ),
    ).toEqual([]);
    // The DASH manifest's run above failed in ValidateInput.
    const key = 'notes.mp4';
    const failed = lines().find((l) => l.fn === 'validateInput' && l.level === 'ERROR');
    expect(failed).toMatchObject({
      service: 'lambda-hls',
      state: 'ValidateInput',
      outcome: 'failed',
      execution: expect.stringMatching(new RegExp(`^${videoIdFor(key)}-`)),
      error: { name: 'NotMedia', cause: expect.stringMatching(/^"notes.mp4": it is not MP4 but a DASH manifest/) },
      durationMs: expect.any(Number),
    });
    const cleanUp = lines().find((l) => l.fn === 'cleanUp' && l.execution === failed!.execution);
    expect(cleanUp).toMatchObject({ level: 'INFO', state: 'CleanUp', outcome: 'succeeded' });
    // Every Task of a successful run names its execution and video.
    const packaged = lines().find((l) => l.fn === 'packageBatch' && l.level === 'INFO');
    expect(packaged).toMatchObject({ state: 'PackageBatch', videoId: expect.any(String), execution: expect.any(String), batch: 0 });
    // A playback request answered 404 is a warning naming the route.
    await runner.invoke('serveSegment', { rawPath: '/v/no-such-video-000000/index.m3u8', requestContext: { http: { method: 'GET' } } });
    // The line comes down the function's stdout, the answer down its IPC channel: either may be first.
    const warned = () =>
      lines().find((l) => l.fn === 'serveSegment' && l.level === 'WARN' && l.route === 'GET /v/no-such-video-000000/index.m3u8');
    for (let waited = 0; !warned() && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    // What CloudWatch would hold, kept for a person to read (artifacts/ is not committed).
    mkdirSync(join(ROOT, 'artifacts'), { recursive: true });
    writeFileSync(join(ROOT, 'artifacts', 'rehearsal-function-logs.jsonl'), `${runner.logs.map((l) => l.line).join('\n')}\n`);
    expect(warned()).toMatchObject({
      route: 'GET /v/no-such-video-000000/index.m3u8',
      outcome: 404,
      message: 'GET /v/no-such-video-000000/index.m3u8 answered 404',
    });
  });

  it('ends an upload cut short in SegmentMedia as TruncatedInput with both durations, its segments removed from the work bucket', async () => {
    const key = 'interrupted.mp4';
    const whole = readFileSync(makeVideo(join(scratch, 'whole.mp4'), { seconds: 12, size: '320x180', movflags: '+faststart' }));
    const file = join(scratch, 'interrupted.mp4');
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const { described, events } = await convertByUpload(key, file);
    expect(described).toMatchObject({ status: 'FAILED', error: 'TruncatedInput' });
    expect(failedState(events)).toEqual({
      state: 'SegmentMedia',
      error: 'TruncatedInput',
      cause: expect.stringMatching(/^"interrupted.mp4" is cut short: its media ends at \d+\.\d s of the 12\.0 s its header declares/),
    });
    expect(await leftIn(buckets.work, `${videoIdFor(key)}/`)).toEqual([]);
    expect([...lambda.functions.keys()].filter((name) => name.includes(videoIdFor(key)))).toEqual([]);
  });

  it('converts the identical file uploaded again after its run failed, and starts nothing for its failed event delivered again', async () => {
    const key = 'again.mp4';
    const file = makeVideo(join(scratch, 'again.mp4'), { seconds: 8, size: '320x180' });
    lambda.codeStorageBytes = 1; // the account's code storage is full: the first run fails before any function exists
    const before = notifications.length;
    const first = await convertByUpload(key, file);
    expect(first.described).toMatchObject({ status: 'FAILED', error: 'CodeStorageQuotaExceeded' });
    lambda.codeStorageBytes = undefined;
    // S3 delivers at least once: the same event again starts nothing, though its run failed.
    const executions = states.executions.size;
    const redelivered = (await runner.invoke('startConversion', deliveredEvents[before])) as { result: string }[];
    expect([redelivered[0]?.result, states.executions.size]).toEqual(['exists', executions]);
    // A new upload of the same bytes is a new conversion (its own revision), which succeeds.
    const again = await convertByUpload(key, file);
    expect(again.described.name).not.toBe(first.described.name);
    expect(again.described.status).toBe('SUCCEEDED');
    await expectEveryFramePlayed(key, file);
  });

  it('converts an execution started by hand with the console input {"key": …}', async () => {
    const key = 'Lecture 1.MP4';
    const out = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: machineArn,
        name: 'by-hand-1',
        input: JSON.stringify({ key, options: { segmentSeconds: 6 } }),
      }),
    );
    const { described } = await finished('by-hand-1');
    expect(out.executionArn).toBe(described.executionArn);
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output!)).toMatchObject({ videoId: videoIdFor(key), segmentCount: 5 });
  });

  it('never rewrites the served revision: a console execution whose copied input names it fails RevisionPublished, touching nothing; one without it builds a new revision', async () => {
    const key = 'Served.mp4';
    const videoId = videoIdFor(key);
    const { described } = await convertByUpload(key, makeVideo(join(scratch, 'served.mp4'), { seconds: 8, size: '160x90' }));
    const served = JSON.parse(described.output!) as { revision: string; playlistKey: string };
    const functions = new LambdaClient({ region: account.region, endpoint: lambda.endpoint, credentials: people });
    /** Every function of the video with its code's SHA-256, and the served revision's playlist bytes. */
    const snapshot = async () => {
      const names = [...lambda.functions.keys()].filter((name) => name.includes(videoId)).sort();
      const codes = await Promise.all(
        names.map(async (name) => [name, (await functions.send(new GetFunctionCommand({ FunctionName: name }))).Configuration?.CodeSha256]),
      );
      const playlist = await user.send(new GetObjectCommand({ Bucket: buckets.output, Key: served.playlistKey }));
      return { codes, playlist: await playlist.Body!.transformToString() };
    };
    const before = await snapshot();
    // The console's New execution copies the previous input, revision included; the operator changes the options, or not.
    for (const [name, options] of [
      ['rewrite-served-1', { segmentSeconds: 4 }],
      ['rewrite-served-2', {}],
    ] as const) {
      await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: machineArn,
          name,
          input: JSON.stringify({ key, revision: served.revision, options }),
        }),
      );
      const { described: refused, events } = await finished(name);
      expect(refused).toMatchObject({
        status: 'FAILED',
        error: 'RevisionPublished',
        cause: expect.stringContaining(`revision ${served.revision} of ${videoId} is being served`),
      });
      expect(failedState(events)).toMatchObject({ state: 'ValidateInput', error: 'RevisionPublished' });
      expect(await snapshot()).toEqual(before);
    }
    // Without the revision: a new one, named after the upload and the options; the served bytes stay as they were.
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: machineArn,
        name: 'rebuild-served',
        input: JSON.stringify({ key, options: { segmentSeconds: 4 } }),
      }),
    );
    const rebuilt = await finished('rebuild-served');
    expect(rebuilt.described.status).toBe('SUCCEEDED');
    expect((JSON.parse(rebuilt.described.output!) as { revision: string }).revision).not.toBe(served.revision);
    const after = await snapshot();
    expect(after.playlist).toBe(before.playlist);
    expect(after.codes).toEqual(expect.arrayContaining(before.codes));
  });

  it("refuses the console's default input with what to type", async () => {
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: machineArn,
        name: 'by-hand-2',
        input: JSON.stringify({ Comment: 'Insert your JSON here' }),
      }),
    );
    const { described } = await finished('by-hand-2');
    expect(described).toMatchObject({
      status: 'FAILED',
      error: 'InvalidRequest',
      cause: expect.stringContaining('{"key": "<object key in the input bucket>"}'),
    });
  });
});

describe("Lambda's limits", () => {
  it('stores a package of the largest size CreateFunction takes directly, and one a byte larger through the work bucket; both read back whole', async () => {
    const [videoId, revision] = ['package-sizes', 'edge0001'];
    const sizes = [DIRECT_UPLOAD_BYTES, DIRECT_UPLOAD_BYTES + 1];
    const overhead = layoutStoredZip([{ name: segmentEntryName(0), size: 0, crc32: 0 }]).size;
    const data = sizes.map((size, i) => Buffer.alloc(size - overhead, i + 1));
    const packages = [];
    for (const [i, bytes] of data.entries()) {
      const key = keys.segment(videoId, revision, i);
      await user.send(new PutObjectCommand({ Bucket: buckets.work, Key: key, Body: bytes }));
      const entry = { index: i, name: segmentEntryName(i), key, bytes: bytes.length, crc32: crc32(bytes) };
      packages.push({ package: i, bytes: sizes[i]!, entries: [entry] });
    }
    const batch = { videoId, revision, batch: 0, packages };
    await user.send(new PutObjectCommand({ Bucket: buckets.work, Key: keys.batch(videoId, revision, 0), Body: JSON.stringify(batch) }));
    // PackageBatch's bundle, as the Map runs it.
    expect(await runner.invoke('packageBatch', { videoId, revision, batch: 0 })).toMatchObject({ packages: 2, created: 2 });

    const made = [...lambda.functions.values()]
      .filter((f) => String(f.configuration.FunctionName).includes(videoId))
      .sort((a, b) => Number(a.configuration.CodeSize) - Number(b.configuration.CodeSize));
    expect(made.map((f) => [f.configuration.CodeSize, f.created.source])).toEqual([
      [sizes[0], 'ZipFile'],
      [sizes[1], 'S3'],
    ]);
    // The direct one is at the very edge of what the request may hold.
    expect(REQUEST_LIMIT - made[0]!.created.requestBytes).toBeGreaterThan(0);
    expect(REQUEST_LIMIT - made[0]!.created.requestBytes).toBeLessThan(512);
    expect(await leftIn(buckets.work, 'packages/')).toEqual([]); // the staged copy is gone once the function holds it
    for (const [i, f] of made.entries()) {
      // Read back as ComputeOffsets and players do: GetFunction's Code.Location, by range.
      const code = await new LambdaClient({ region: account.region, endpoint: lambda.endpoint, credentials: people }).send(
        new GetFunctionCommand({ FunctionName: String(f.configuration.FunctionName) }),
      );
      const { dataOffset, size } = layoutStoredZip([{ name: segmentEntryName(i), size: data[i]!.length, crc32: 0 }]).entries[0]!;
      const tail = await fetch(code.Code!.Location!, { headers: { Range: `bytes=${dataOffset + size - 16}-${dataOffset + size - 1}` } });
      expect(Buffer.from(await tail.arrayBuffer())).toEqual(Buffer.alloc(16, i + 1));
    }
    // What CleanUp does for a failed run removes both, and everything in the work bucket under the revision.
    await runner.invoke('cleanUp', { error: { Error: 'Rehearsal', Cause: 'done' }, job: { videoId }, revision });
    expect([...lambda.functions.keys()].filter((name) => name.includes(videoId))).toEqual([]);
    expect(await leftIn(buckets.work, `${videoId}/`)).toEqual([]);
  }, 120_000);

  it("packs 9 packages under a slow CreateFunction (2 s, 10 MB/s, then Pending 10 s): batches sized from PackageBatch's timeout, each waiting once for its functions, none read back while Pending", async () => {
    const key = 'by-hand/slow creates.mp4';
    lambda.pendingReads.clear();
    {
      const { described, events } = await convertOnePackagePerSegment(
        key,
        makeVideo(join(scratch, 'slow-creates.mp4'), { seconds: 9, size: '160x90' }),
        'slow-creates',
        CREATE_PROFILES.slow,
      );
      expect({ status: described.status, failure: failedState(events) }).toEqual({ status: 'SUCCEEDED', failure: undefined });
      expect(JSON.parse(described.output!).packages).toBe(9);
      const packaging = summarizeStates(events).find((s) => s.state === 'PackageSegments')!;
      expect(packaging.iterations).toMatchObject({ started: 2, succeeded: 2, failed: 0 });
      // Each batch: its creates one after another (8 × 2 s), one wait for Active (~10 s): well within half of 300 s.
      const timeout = Number(runner.find('packageBatch').timeoutSeconds);
      const batchSeconds = [0, 1].map((index) => {
        const at = (type: string) => events.find((e) => e.state === 'PackageBatch' && e.index === index && e.type === type)!.timestamp;
        return (at('StateExited') - at('StateEntered')) / 1000;
      });
      expect(Math.max(...batchSeconds)).toBeGreaterThan(CREATE_PROFILES.slow.pendingMs / 1000);
      expect(Math.max(...batchSeconds)).toBeLessThan(timeout / 2);
      // PackageBatch's waiter saw them Pending; ComputeOffsets read every package only once it was Active.
      const readsBy = (key: string) => lambda.pendingReads.get(roleCredentials(runner.find(key).role).accessKeyId) ?? 0;
      expect(readsBy('packageBatch')).toBeGreaterThan(0);
      expect(readsBy('computeOffsets')).toBe(0);
    }
  }, 180_000);

  it("stops a function that runs past its timeout: the run fails in that state with Lambda's Sandbox.Timedout, and CleanUp runs", async () => {
    const key = 'slow storage.mp4';
    const validator = roleCredentials(runner.find('validateInput').role).accessKeyId;
    // The input answers ValidateInput's reads 3 s late; its function is given 1 s.
    const slow = s3.failing((r) => (r.accessKeyId === validator && r.action === 's3:GetObject' ? { delayMs: 3000 } : undefined));
    const restore = runner.configure('validateInput', {}, 1);
    try {
      const { described, events } = await convertByUpload(key, makeVideo(join(scratch, 'slow.mp4'), { seconds: 2, size: '160x90' }));
      expect(described).toMatchObject({ status: 'FAILED', error: 'Sandbox.Timedout' });
      expect(failedState(events)).toEqual({
        state: 'ValidateInput',
        error: 'Sandbox.Timedout',
        cause: expect.stringContaining('Task timed out after 1.00 seconds'),
      });
      expect(events.some((e) => e.type === 'StateEntered' && e.state === 'CleanUp')).toBe(true);
    } finally {
      slow();
      restore();
    }
  });
});

/** The CLI as a user runs it with --stage, credentials and a region in the environment (asynchronously: this process serves the emulators). */
async function cli(args: string[], more: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = join(scratch, 'cli-home');
  mkdirSync(home, { recursive: true });
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    LAMBDA_HLS_HOME: join(home, '.lambda-hls'),
    LAMBDA_HLS_VIDEO_ID_SECRET: VIDEO_ID_SECRET,
    AWS_REGION: account.region,
    AWS_ACCESS_KEY_ID: people.accessKeyId,
    AWS_SECRET_ACCESS_KEY: people.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
    AWS_ENDPOINT_URL_SFN: states.endpoint,
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.endpoint,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    NODE_OPTIONS: `--require ${HOSTS}`,
    ...more,
  };
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args, '--stage', STAGE], { env, timeout: 180_000 }, (error, stdout, stderr) =>
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('lambda-hls --stage rehearsal, on the rehearsed stack', () => {
  it('converts a file: uploads it, the notification starts the run, progress is followed, and prints the playlist, the proxied playlist and the page to share', async () => {
    const file = makeVideo(join(scratch, 'Talk 2.MP4'), { seconds: 25, size: '320x180' });
    const run = await cli(['convert', file, '--json']);
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    const json = JSON.parse(run.stdout) as { status: string; videoId: string; playlist: string; segments: number } & Record<string, string>;
    expect(json).toMatchObject({ status: 'SUCCEEDED', videoId: videoIdFor('Talk 2.MP4'), segments: 5 });
    expect(json.playlist).toBe(`${api.endpoint}/v/${json.videoId}/index.m3u8`);
    expect(json.watch).toBe(`${api.endpoint}/watch/${json.videoId}`);
    expect(json.proxiedPlaylist).toBe(`${deliveryBaseUrl()}v/${json.videoId}/index.m3u8`);
    expect(await framesOf(PLAYER, json.playlist)).toBe(await framesOf(PLAYER, file));
    // (Players outside the browser take the playlist above; the proxied one is read in the delivery test.)
    expect((await fetch(json.proxiedPlaylist!)).status).toBe(200);
    expect((await fetch(json.watch!)).status).toBe(200);
    // The same, in words: which address is for whom.
    const text = await cli(['convert', file]);
    expect(text.stdout + text.stderr).toContain(`share     ${json.watch}`);
    expect(text.stdout + text.stderr).toContain(`web       ${json.proxiedPlaylist}`);
  });

  it('finds a stream only by the id its secret makes: the file name alone leads nowhere, and the CLI needs the same secret', async () => {
    const key = 'Talk 2.MP4';
    expect((await fetch(`${playbackBaseUrl()}/v/${videoIdFor(key)}/index.m3u8`)).status).toBe(200);
    expect(videoIdFor(key)).toMatch(/^talk-2-[0-9a-f]{12}$/);
    const fromNameAlone = videoIdUnder(key, { functionPrefix: SCHEME.functionPrefix });
    expect((await fetch(`${playbackBaseUrl()}/v/${fromNameAlone}/index.m3u8`)).status).toBe(404);
    // The stack publishes a check, never the secret.
    const outputs = JSON.stringify(template.Outputs);
    expect(outputs).toContain('VideoIdSecretCheck');
    expect(outputs).not.toContain(VIDEO_ID_SECRET);
    const file = makeVideo(join(scratch, 'never uploaded.mp4'), { seconds: 2, size: '160x90' });
    for (const [secret, said] of [
      ['', /stage rehearsal mixes a secret into its video ids: set LAMBDA_HLS_VIDEO_ID_SECRET/],
      ['not-the-secret-at-all', /LAMBDA_HLS_VIDEO_ID_SECRET is not the videoIdSecret stage rehearsal was deployed with/],
    ] as const) {
      const run = await cli(['convert', file], { LAMBDA_HLS_VIDEO_ID_SECRET: secret });
      expect([run.code, run.stderr]).toEqual([2, expect.stringMatching(said)]);
    }
    expect(await leftIn(buckets.input, 'never uploaded.mp4')).toEqual([]);
  });

  it("keeps an upload whose conversion could not be started (Step Functions out through Lambda's retries) in the failed-uploads queue: failed-uploads lists it, --retry converts it", async () => {
    const key = 'during the outage.mp4';
    const file = makeVideo(join(scratch, 'outage.mp4'), { seconds: 8, size: '320x180' });
    const queue = resourcesOfType(template, account, 'AWS::SQS::Queue')[0]![1].QueueName as string;
    const restore = states.refuseStarts();
    const before = notifications.length;
    const executionsBefore = states.executions.size;
    let outcome: unknown;
    try {
      await user.send(new PutObjectCommand({ Bucket: buckets.input, Key: key, Body: readFileSync(file) }));
      while (notifications.length === before) await new Promise((resolve) => setTimeout(resolve, 10));
      outcome = await notifications[before];
    } finally {
      restore();
    }
    // The first attempt and Lambda's two retries each failed; then the event went to the queue, sent with the function's role.
    expect(outcome).toMatchObject({ errorType: 'TransientNetworkError', errorMessage: expect.stringContaining('ServiceUnavailable') });
    expect(asyncInvocations.givenUp.at(-1)).toEqual({
      function: 'startConversion',
      attempts: 3,
      destination: `arn:aws:sqs:${account.region}:${account.account}:${queue}`,
      sent: true,
    });
    expect(states.executions.size).toBe(executionsBefore);

    const listed = await cli(['failed-uploads', '--json']);
    expect({ code: listed.code, stderr: listed.code === 0 ? '' : listed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(listed.stdout)).toEqual({
      failedUploads: [
        {
          id: expect.any(String),
          failedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          condition: 'RetriesExhausted',
          attempts: 3,
          error: 'TransientNetworkError',
          cause: expect.stringContaining('ServiceUnavailable'),
          keys: [key],
        },
      ],
      unreadable: [],
    });
    // Looking leaves it there, visible to the next look.
    expect(sqs.messages(queue)).toHaveLength(1);
    expect((await cli(['failed-uploads'])).stderr).toContain(
      `lambda-hls: 1 upload whose conversion could not be started on lambda-hls-${STAGE}`,
    );

    const retried = await cli(['failed-uploads', '--retry', '--json']);
    expect({ code: retried.code, stderr: retried.code === 0 ? '' : retried.stderr }).toEqual({ code: 0, stderr: '' });
    const [entry] = (
      JSON.parse(retried.stdout) as {
        failedUploads: { retry: { result: string; executions: { executionName: string; result: string }[] } }[];
      }
    ).failedUploads;
    expect(entry!.retry.result).toBe('started');
    const [started] = entry!.retry.executions;
    // The execution start-conversion would have started: named after the upload, so a second retry starts nothing.
    expect(started).toEqual({ key, result: 'started', executionName: expect.stringMatching(new RegExp(`^${videoIdFor(key)}-`)) });
    expect((await finished(started!.executionName)).described.status).toBe('SUCCEEDED');
    await expectEveryFramePlayed(key, file);
    expect(sqs.messages(queue)).toEqual([]);
    expect((await cli(['failed-uploads'])).stderr).toContain('lambda-hls: no failed uploads');
  });

  it("shows a failed run's failed state, error and cause with history", async () => {
    const run = await cli(['history', videoIdFor('notes.mp4'), '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'FAILED', error: { state: 'ValidateInput', error: 'NotMedia' } });
  });

  it('lists the converted videos with their playlist URLs, and gc finds nothing that no video owns', async () => {
    const list = JSON.parse((await cli(['list', '--json'])).stdout) as { videoId: string; playlist: string }[];
    expect(list.map((v) => v.videoId)).toEqual(
      expect.arrayContaining([videoIdFor('Lecture 1.MP4'), videoIdFor('Talk 2.MP4'), videoIdFor('podcast episode.mp3')]),
    );
    expect(list.every((v) => v.playlist === `${api.endpoint}/v/${v.videoId}/index.m3u8`)).toBe(true);
    expect(list.find((v) => v.videoId === videoIdFor('Talk 2.MP4'))).toMatchObject({
      watch: `${api.endpoint}/watch/${videoIdFor('Talk 2.MP4')}`,
      proxiedPlaylist: `${deliveryBaseUrl()}v/${videoIdFor('Talk 2.MP4')}/index.m3u8`,
    });
    const text = (await cli(['list'])).stdout;
    expect(text).toContain(`  web       ${deliveryBaseUrl()}v/${videoIdFor('Talk 2.MP4')}/index.m3u8`);
    expect(JSON.parse((await cli(['gc', '--dry-run', '--json'])).stdout)).toEqual({
      dryRun: true,
      functions: [],
      objects: [],
      leftovers: [],
      unreadable: [],
      busy: [],
      reservations: [],
    });
  });

  it('deletes one video, then everything (what serverless remove runs first), leaving no segment function and empty work and output buckets', async () => {
    const id = videoIdFor('Talk 2.MP4');
    expect((await cli(['delete', id])).code).toBe(0);
    expect([...lambda.functions.keys()].some((name) => name.includes(id))).toBe(false);
    expect((await cli(['delete', '--all'])).code).toBe(0);
    expect([...lambda.functions.keys()]).toEqual([]);
    expect(await leftIn(buckets.work, '')).toEqual([]);
    expect(await leftIn(buckets.output, '')).toEqual([]);
    expect((await leftIn(buckets.input, '')).length).toBeGreaterThan(0); // the uploads are the user's
  });
});

describe("AWS's rates", () => {
  it('converts a video of 40+ packages under a control plane rate its batches outpace, the throttling retried and shown in its history', async () => {
    const key = 'by-hand/many packages.mp4';
    // Creates answered at once, four batches at a time, against 3 requests a second: throttled on
    // any machine. (Against AWS's 15 a slow machine's batches made fewer than 15 a second, and
    // nothing was throttled: the test measured the machine, not the retries.)
    const file = makeVideo(join(scratch, 'many.mp4'), { seconds: 44, size: '160x90' });
    lambda.controlRate = 3;
    try {
      const { described, events } = await convertOnePackagePerSegment(key, file, 'many-packages', CREATE_PROFILES.instant);
      expect(described.status).toBe('SUCCEEDED');
      expect(JSON.parse(described.output!).packages).toBeGreaterThanOrEqual(40);
      const packaging = summarizeStates(events).find((s) => s.state === 'PackageSegments')!;
      // Every 429 was retried (by the SDK, the adapter or the step), and the history counts each one.
      const throttled = lambda.throttled.get('CreateFunction') ?? 0;
      expect(throttled).toBeGreaterThan(0);
      expect(packaging.retries + (packaging.callRetries ?? 0)).toBe(throttled);
    } finally {
      lambda.controlRate = 15;
    }
  });
});

describe('a new account: 10 concurrent executions in all', () => {
  let defaults: Template;
  const reads = accountReads;

  beforeAll(() => {
    // What a new user deploys: serverless.yml's defaults, which reserve nothing.
    defaults = packageStack(STAGE, join(scratch, 'out-defaults'), scratch, { videoIdSecret: VIDEO_ID_SECRET });
    concurrency.limit = 10;
  }, 300_000);

  afterAll(() => {
    concurrency.limit = 1000;
    runner.deploy(template, account);
  });

  it('deploys the defaults, and refuses a reservation as AWS would, before CloudFormation, saying what the account has', async () => {
    expect(reservationsOf(defaults)).toEqual([]);
    runner.deploy(defaults, account, join(scratch, 'out-defaults'));
    expect(await checkReservations(defaults, reads(), account.region)).toBeUndefined();
    expect((await reads().accountSettings()).AccountLimit).toMatchObject({ ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 });
    // The stack rehearsed above reserves 4 for serve-segment: the deploy check stops it ...
    await expect(checkReservations(template, reads(), account.region)).rejects.toThrow(
      'this deploy reserves 4 concurrent executions (serveSegment 4), but the account\'s Lambda concurrency in us-east-1 is 10 with 10 unreserved, and AWS keeps at least 10 unreserved: it can reserve none (--param="serveSegmentConcurrency=none")',
    );
    // ... and where it did not, Lambda refuses the reservation and the deploy rolls back.
    expect(() => runner.deploy(template, account)).toThrow(
      "decreases account's UnreservedConcurrentExecution below its minimum value of [10]",
    );
    expect([...concurrency.reserved]).toEqual([]);
    runner.deploy(defaults, account, join(scratch, 'out-defaults'));
  });

  it('throttles invocations past the unreserved concurrency, as Lambda does', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () => runner.invoke('writePlaylist', {}).catch((error: InvocationError) => error.errorType)),
    );
    expect(outcomes.filter((o) => o === 'TooManyRequestsException')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'InvalidRequest')).toHaveLength(10);
  });

  it('converts a copy', async () => {
    const key = 'new account/copy.mp4';
    const file = makeVideo(join(scratch, 'new-account-copy.mp4'), { seconds: 12, size: '160x90' });
    await convertedAndPlayed(key, file);
  });

  it('converts a transcode in chunks, no more at once than half the account leaves unreserved, and the history says so', async () => {
    const key = 'new account/transcode.mp4';
    const file = makeVideo(join(scratch, 'new-account-transcode.mp4'), { seconds: 90, size: '160x90', videoCodec: 'mpeg4' });
    // Fifteen chunks of one 6-s segment (LAMBDA_HLS_CHUNK_SECONDS=10 rounds down to whole segments), as a
    // user may set it; encodeConcurrency stays the default 10.
    const restore = runner.configure('segmentMedia', { LAMBDA_HLS_CHUNK_SECONDS: '10' });
    try {
      const encodeChunk = runner.find('encodeChunk').name;
      concurrency.peak.delete(encodeChunk);
      const { described, events } = await convertByUpload(key, file);
      expect(described.status).toBe('SUCCEEDED');
      expect(summarizeStates(events).find((s) => s.state === 'EncodeChunks')).toMatchObject({ iterations: { started: 15, succeeded: 15 } });
      expect(JSON.stringify(events)).toContain(
        'encoding in 15 chunks of 6 s, 5 at a time (at most 5 chunks at once, not 10: the account has 10 unreserved concurrent executions',
      );
      expect(concurrency.peak.get(encodeChunk)).toBeLessThanOrEqual(5);
      expect(concurrency.throttled.get(encodeChunk) ?? 0).toBe(0);
      await expectEveryFramePlayed(key, file);
    } finally {
      restore();
    }
  });
});

/** The stack's PlaybackBaseUrl output, as a user reads it. */
function playbackBaseUrl(): string {
  return resolve(template, account, template.Outputs.PlaybackBaseUrl!.Value) as string;
}

function deliveryBaseUrl(): string {
  return resolve(template, account, template.Outputs.DeliveryBaseUrl!.Value) as string;
}

/** Fails every attempt at part 2 of a segment's multipart upload to the work bucket while `until()` is false; returns what was aborted. */
function failSecondParts(until: (aborted: string[]) => boolean) {
  const aborted: string[] = [];
  const restore = s3.failing(({ action, bucket, key, query }) => {
    if (bucket !== buckets.work || !key.includes('/segments/')) return undefined;
    if (action === 's3:AbortMultipartUpload') aborted.push(key);
    const part = action === 's3:PutObject' && query.get('partNumber') === '2';
    return part && !until(aborted) ? { status: 500, code: 'InternalError' } : undefined;
  });
  return { aborted, restore };
}

describe("S3's faults", () => {
  it("retries SegmentMedia when a segment's part upload keeps failing: the multipart upload is aborted (its grant used) and the next attempt converts", async () => {
    const key = 'hd clip.mp4';
    // One 6-s segment of 1080p (the ladder's copied top rung) is over lib-storage's 5 MB part size: a
    // multipart upload of two parts. The encoded rungs' segments are smaller.
    const file = makeVideo(join(scratch, 'hd clip.mp4'), { seconds: 10, size: '1920x1080' });
    const fault = failSecondParts((aborted) => aborted.length > 0);
    try {
      const { described, events } = await convertByUpload(key, file);
      expect(described.status).toBe('SUCCEEDED');
      const { revision } = JSON.parse(described.output!) as { revision: string };
      expect(fault.aborted).toEqual([`${videoIdFor(key)}/${revision}/segments/1080p/00000.ts`]);
      expect(summarizeStates(events).find((s) => s.state === 'SegmentMedia')).toMatchObject({ status: 'SUCCEEDED', retries: 1 });
      expect(events.find((e) => e.type === 'StateFailed' && e.state === 'SegmentMedia')).toMatchObject({
        error: 'TransientNetworkError',
        cause: expect.stringContaining('InternalError'),
      });
      await expectEveryFramePlayed(key, file);
    } finally {
      fault.restore();
    }
  });
});

describe("IAM: every call above was evaluated against the template's policies", () => {
  it('denied none of them', () => {
    expect(iam.denials).toEqual([]);
    expect(iam.checked.allowed).toBeGreaterThan(200);
  });

  it('fails a run when a grant the product needs is taken away, naming the denied call', async () => {
    const restore = iam.revoke('SegmentMediaRole', 's3:PutObject');
    try {
      const { described } = await convertByUpload('denied.mp4', makeVideo(join(scratch, 'denied.mp4'), { seconds: 4, size: '160x90' }));
      expect(described).toMatchObject({ status: 'FAILED', error: 'AccessDenied' });
      expect(iam.denials).toEqual([
        expect.objectContaining({ principal: expect.stringMatching(/role\/SegmentMediaRole$/), action: 's3:PutObject' }),
      ]);
    } finally {
      restore();
      iam.denials.length = 0;
    }
  });

  it("fails SegmentMedia with AccessDenied, not the transient error, when a failed part's upload cannot be aborted", async () => {
    const restore = iam.revoke('SegmentMediaRole', 's3:AbortMultipartUpload');
    const fault = failSecondParts(() => false);
    try {
      const { described } = await convertByUpload('no abort.mp4', join(scratch, 'hd clip.mp4'));
      expect(described).toMatchObject({ status: 'FAILED', error: 'AccessDenied' });
      expect(iam.denials).toEqual([
        expect.objectContaining({ principal: expect.stringMatching(/role\/SegmentMediaRole$/), action: 's3:AbortMultipartUpload' }),
      ]);
    } finally {
      fault.restore();
      restore();
      iam.denials.length = 0;
    }
  });
});
