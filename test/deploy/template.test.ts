// The deployment, proven offline: `serverless package` (no AWS credentials, telemetry off) compiles
// serverless.yml into CloudFormation, and these tests read what it wrote: the state machine, the
// IAM roles statement by statement, the buckets, the S3 trigger, the HTTP API and the layer.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { functionsWithMedia, functionVariables } from '../../src/composition/deployment';
import type { FunctionKey } from '../../src/composition/steps';
import { TRANSIENT_ERRORS } from '../../src/core/errors';
import { parseCentralDirectory, type CentralEntry } from '../support/zip';
import { sourceBuilt } from '../../src/adapters/ffmpeg/binaries';
import { crc32 } from '../../src/core/zip';
import { loadDefinition } from '../../cli/engine';
import { removeDir, tempDir } from '../support/fixtures';

const ROOT = join(__dirname, '..', '..');
const STAGE = 'ci';
const SERVICE = 'lambda-hls';
const PREFIX = `${SERVICE}-${STAGE}-seg-`;

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON, read by shape in every test
type Json = any;

let dir: string;
let template: {
  Resources: Record<string, { Type: string; Properties: Json; DependsOn?: string[]; DeletionPolicy?: string }>;
  Outputs: Record<string, Json>;
};

/** osls 3, the maintained fork of Serverless v3 (scripts/test-prerequisites.mjs installs it beside the project). */
const OSLS = join(ROOT, 'node_modules', '.cache', 'lambda-hls-osls', 'node_modules', 'osls', 'bin', 'serverless.js');

/** The Serverless Framework (or osls) with no credentials of any kind and telemetry off. */
function serverless(args: string[], bin = join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js')) {
  const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete env[name];
  env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'no-credentials');
  env.AWS_CONFIG_FILE = join(dir, 'no-config');
  env.AWS_EC2_METADATA_DISABLED = 'true';
  return spawnSync(process.execPath, [bin, ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 240_000,
  });
}

beforeAll(() => {
  dir = tempDir('lambda-hls-package-');
  const run = serverless(['package', '--stage', STAGE, '--package', join(dir, 'out')]);
  if (run.status !== 0) throw new Error(`serverless package failed (${run.status ?? run.signal}):\n${run.stdout}\n${run.stderr}`);
  template = JSON.parse(readFileSync(join(dir, 'out', 'cloudformation-template-update-stack.json'), 'utf8'));
}, 300_000);

afterAll(() => removeDir(dir));

/** Renders intrinsic functions into strings for one imagined account, so ARNs can be compared as text. */
function render(value: Json): Json {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map(render);
  if (value && typeof value === 'object') {
    if ('Ref' in value) {
      const pseudo: Record<string, string> = {
        'AWS::Partition': 'aws',
        'AWS::Region': 'us-east-1',
        'AWS::AccountId': '123456789012',
        'AWS::StackId': `arn:aws:cloudformation:us-east-1:123456789012:stack/lambda-hls-${STAGE}/${STACK_UUID}`,
      };
      return pseudo[value.Ref] ?? `<${value.Ref}>`;
    }
    if ('Fn::GetAtt' in value) return `<${value['Fn::GetAtt'].join('.')}>`;
    if ('Fn::Join' in value) return (render(value['Fn::Join'][1]) as string[]).join(value['Fn::Join'][0]);
    if ('Fn::Split' in value) return (render(value['Fn::Split'][1]) as string).split(value['Fn::Split'][0]);
    if ('Fn::Select' in value) return (render(value['Fn::Select'][1]) as string[])[value['Fn::Select'][0]];
    if ('Fn::Sub' in value) {
      const [text, vars] = Array.isArray(value['Fn::Sub']) ? value['Fn::Sub'] : [value['Fn::Sub'], {}];
      return (text as string).replace(/\$\{([^}]+)\}/g, (_, name: string) =>
        name in vars ? String(render(vars[name])) : String(render({ Ref: name })),
      );
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v)]));
  }
  return value;
}

function resourcesOfType(type: string): [string, Json][] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties]);
}

function zipEntries(path: string): CentralEntry[] {
  const bytes = readFileSync(path);
  const entries = parseCentralDirectory(bytes, 0);
  if (!Array.isArray(entries)) throw new Error(`${path}: central directory not found`);
  return entries;
}

const FUNCTIONS = [
  'validateInput',
  'segmentMedia',
  'encodeChunk',
  'joinChunks',
  'packageBatch',
  'computeOffsets',
  'makeCaptions',
  'writePlaylist',
  'makePreviews',
  'registerRoute',
  'cleanUp',
  'serveSegment',
  'deliverSegment',
  'startConversion',
];
const logical = (key: string) => key[0]!.toUpperCase() + key.slice(1);
const STACK_UUID = '51af3dc0-da77-11e4-872e-1234567db123';
/** Input: account and the stack id's first group (it outlives its stack); work and output: account and region. */
const bucketName = (purpose: string) =>
  purpose === 'input' ? `${SERVICE}-${STAGE}-input-123456789012-51af3dc0` : `${SERVICE}-${STAGE}-${purpose}-123456789012-us-east-1`;
const objects = (purpose: string) => `arn:aws:s3:::${bucketName(purpose)}/*`;
const bucket = (purpose: string) => `arn:aws:s3:::${bucketName(purpose)}`;
const SEGMENT_FUNCTIONS = `arn:aws:lambda:us-east-1:123456789012:function:${PREFIX}*`;

describe('serverless package (offline) compiles the whole product', () => {
  it('has one function per step plus serve-segment, deliver-segment and start-conversion, all on nodejs24.x, and segment packages on provided.al2023', () => {
    const functions = resourcesOfType('AWS::Lambda::Function');
    expect(functions.map(([id]) => id).sort()).toEqual(FUNCTIONS.map((f) => `${logical(f)}LambdaFunction`).sort());
    for (const [id, props] of functions) {
      const major = Number(/^nodejs(\d+)\.x$/.exec(props.Runtime)?.[1]);
      expect({ id, major }).toEqual({ id, major: 24 });
      expect(props.Architectures).toEqual(['x86_64']);
    }
    // Segment packages are created at run time, never invoked: on the runtime AWS lets us create longest.
    expect(template.Resources.PackageBatchLambdaFunction!.Properties.Environment.Variables.LAMBDA_HLS_SEGMENT_RUNTIME).toBe(
      'provided.al2023',
    );
  });

  it('bundles each handler into its own package', () => {
    for (const [id, props] of resourcesOfType('AWS::Lambda::Function')) {
      const key = id.replace(/LambdaFunction$/, '');
      const zip = join(dir, 'out', `${key[0]!.toLowerCase()}${key.slice(1)}.zip`);
      const handlerFile = `${(props.Handler as string).replace(/\.handler$/, '')}.js`;
      expect(zipEntries(zip).map((e) => e.name)).toContain(handlerFile);
    }
  });

  it("has a Standard state machine whose every Task invokes one of the stack's functions", () => {
    const [[, machine]] = resourcesOfType('AWS::StepFunctions::StateMachine') as [[string, Json]];
    expect(machine.StateMachineType).toBe('STANDARD');
    const [text, vars] = machine.DefinitionString['Fn::Sub'] as [string, Record<string, Json>];
    const compiled = JSON.parse(text);
    const source = loadDefinition();
    const compiledNames: string[] = [];
    const resources: Record<string, string> = {};
    const retried: Record<string, string[][]> = {};
    const visit = (states: Record<string, Json>) => {
      for (const [name, state] of Object.entries(states)) {
        compiledNames.push(name);
        if (state.Type === 'Task') resources[name] = state.Resource;
        if (state.Type === 'Task' && name !== 'CleanUp') retried[name] = state.Retry.map((r: Json) => r.ErrorEquals);
        if (state.ItemProcessor) visit(state.ItemProcessor.States);
      }
    };
    visit(compiled.States);
    expect(compiledNames).toEqual(source.stateNames);
    expect(Object.keys(resources).sort()).toEqual(source.tasks.map((t) => t.state).sort());
    // The ASL writes the transient list once (a YAML anchor): every Task got all of it.
    for (const [name, lists] of Object.entries(retried)) expect([name, lists.at(-1)]).toEqual([name, [...TRANSIENT_ERRORS]]);
    // Only EncodeChunk retries its throttled invocation on its own, longer, before them.
    expect(Object.entries(retried).filter(([, lists]) => lists.length > 1)).toEqual([
      ['EncodeChunk', [['Lambda.TooManyRequestsException'], [...TRANSIENT_ERRORS]]],
    ]);
    for (const task of source.tasks) {
      const placeholder = /^\$\{(\w+)\}$/.exec(resources[task.state]!)?.[1];
      expect(placeholder && vars[placeholder]).toEqual({ 'Fn::GetAtt': [`${logical(task.functionKey)}LambdaFunction`, 'Arn'] });
      expect(template.Resources[`${logical(task.functionKey)}LambdaFunction`]?.Type).toBe('AWS::Lambda::Function');
    }
    // The state machine may invoke exactly the step functions, nothing else.
    const role = template.Resources[render(machine.RoleArn).replace(/^<|\.Arn>$/g, '')]!.Properties;
    const statements = role.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
    expect(statements.map((s: Json) => s.Action)).toEqual([['lambda:InvokeFunction']]);
    const invocable = new Set((render(statements[0].Resource) as string[]).map((r) => r.replace(/^<|\.Arn>(:\*)?$/g, '')));
    expect([...invocable].sort()).toEqual([...new Set(source.tasks.map((t) => `${logical(t.functionKey)}LambdaFunction`))].sort());
  });

  it('keeps every bucket private, encrypted and TLS-only, and expires work files', () => {
    const buckets = Object.fromEntries(resourcesOfType('AWS::S3::Bucket').filter(([id]) => id !== 'ServerlessDeploymentBucket'));
    expect(Object.keys(buckets).sort()).toEqual(['InputBucket', 'OutputBucket', 'WorkBucket']);
    for (const [id, props] of Object.entries(buckets)) {
      expect({ id, block: props.PublicAccessBlockConfiguration }).toEqual({
        id,
        block: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      });
      expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
      expect(props.OwnershipControls.Rules).toEqual([{ ObjectOwnership: 'BucketOwnerEnforced' }]);
      const policy = resourcesOfType('AWS::S3::BucketPolicy').find(([, p]) => p.Bucket.Ref === id)?.[1];
      expect(policy.PolicyDocument.Statement).toEqual([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]);
    }
    expect(buckets.WorkBucket.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ Status: 'Enabled', ExpirationInDays: 7 }),
    );
    expect(buckets.InputBucket.LifecycleConfiguration.Rules.some((r: Json) => r.ExpirationInDays)).toBe(false);
    // Uploads survive `serverless remove`; what the pipeline made does not.
    expect(template.Resources.InputBucket!.DeletionPolicy).toBe('Retain');
    expect(template.Resources.WorkBucket!.DeletionPolicy).toBeUndefined();
    expect(template.Resources.OutputBucket!.DeletionPolicy).toBeUndefined();
    expect(buckets.OutputBucket.LifecycleConfiguration.Rules.some((r: Json) => r.ExpirationInDays)).toBe(false);
  });

  it('starts start-conversion on every upload to the input bucket, and lets only that bucket invoke it', () => {
    const input = template.Resources.InputBucket!;
    expect(render(input.Properties.BucketName)).toBe(bucketName('input'));
    expect(input.Properties.NotificationConfiguration.LambdaConfigurations).toEqual([
      { Event: 's3:ObjectCreated:*', Function: { 'Fn::GetAtt': ['StartConversionLambdaFunction', 'Arn'] } },
    ]);
    const permission = template.Resources.StartConversionFromInputBucket!;
    expect(input.DependsOn).toContain('StartConversionFromInputBucket');
    expect(render(permission.Properties)).toEqual({
      FunctionName: '<StartConversionLambdaFunction.Arn>',
      Action: 'lambda:InvokeFunction',
      Principal: 's3.amazonaws.com',
      SourceArn: bucket('input'),
      SourceAccount: '123456789012',
    });
    expect(render(template.Resources.StartConversionLambdaFunction!.Properties.Environment.Variables.STATE_MACHINE_ARN)).toBe(
      '<ConvertVideo>',
    );
  });

  it("hands an upload event that still fails after Lambda's two retries to the failed-uploads queue, which the CLI finds", () => {
    const queue = template.Resources.FailedUploadsQueue!;
    expect(queue.Type).toBe('AWS::SQS::Queue');
    expect(render(queue.Properties)).toEqual({
      QueueName: `${SERVICE}-${STAGE}-failed-uploads`,
      MessageRetentionPeriod: 1209600,
      SqsManagedSseEnabled: true,
    });
    const config = template.Resources.StartConversionInvokeConfig!;
    expect(config.Type).toBe('AWS::Lambda::EventInvokeConfig');
    expect(render(config.Properties)).toEqual({
      FunctionName: '<StartConversionLambdaFunction>',
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21600,
      DestinationConfig: { OnFailure: { Destination: '<FailedUploadsQueue.Arn>' } },
    });
    // No other function is invoked asynchronously: none has (or needs) a destination.
    expect(resourcesOfType('AWS::Lambda::EventInvokeConfig').map(([id]) => id)).toEqual(['StartConversionInvokeConfig']);
    expect(render(template.Outputs.FailedUploadsQueueUrl!.Value)).toBe('<FailedUploadsQueue>');
  });

  it('routes both playback paths, the subtitle renditions and the hosted player page of the HTTP API to serve-segment, with CORS', () => {
    const routes = resourcesOfType('AWS::ApiGatewayV2::Route').map(([, r]) => r);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual([
      'GET /player/hls.min.js',
      'GET /v/{videoId}/index.m3u8',
      'GET /v/{videoId}/{revision}/{captionSet}/{file}',
      'GET /v/{videoId}/{revision}/{captionSet}/{track}/{segment}',
      'GET /v/{videoId}/{revision}/{segment}',
      'GET /v/{videoId}/{segment}',
      'GET /watch/{videoId}',
    ]);
    for (const route of routes) {
      const integrationId = render(route.Target).replace(/^integrations\/<|>$/g, '');
      expect(template.Resources[integrationId]!.Properties.IntegrationUri).toEqual({ 'Fn::GetAtt': ['ServeSegmentLambdaFunction', 'Arn'] });
    }
    const [[, api]] = resourcesOfType('AWS::ApiGatewayV2::Api') as [[string, Json]];
    expect(api.CorsConfiguration.AllowOrigins).toEqual(['*']);
    expect(api.CorsConfiguration.AllowMethods).toContain('GET');
  });

  it('gives the delivery route a public function URL that streams, both grants Lambda needs for it, and its address to the hosted page', () => {
    const [[urlId, url]] = resourcesOfType('AWS::Lambda::Url') as [[string, Json]];
    expect(urlId).toBe('DeliverSegmentLambdaFunctionUrl');
    // No Cors block: the function answers CORS itself (preflight included), as the local server does.
    expect(render(url)).toEqual({
      AuthType: 'NONE',
      TargetFunctionArn: '<DeliverSegmentLambdaFunction.Arn>',
      InvokeMode: 'RESPONSE_STREAM',
    });
    const grants = resourcesOfType('AWS::Lambda::Permission')
      .map(([, p]) => render(p))
      .filter((p) => p.FunctionName === '<DeliverSegmentLambdaFunction.Arn>');
    expect(grants).toEqual(
      expect.arrayContaining([
        {
          FunctionName: '<DeliverSegmentLambdaFunction.Arn>',
          Action: 'lambda:InvokeFunctionUrl',
          Principal: '*',
          FunctionUrlAuthType: 'NONE',
        },
        {
          FunctionName: '<DeliverSegmentLambdaFunction.Arn>',
          Action: 'lambda:InvokeFunction',
          Principal: '*',
          InvokedViaFunctionUrl: true,
        },
      ]),
    );
    expect(grants).toHaveLength(2);
    const deliver = template.Resources.DeliverSegmentLambdaFunction!.Properties;
    expect({ memory: deliver.MemorySize, timeout: deliver.Timeout, reserved: deliver.ReservedConcurrentExecutions }).toEqual({
      memory: 256,
      timeout: 30,
      reserved: undefined,
    });
    expect(render(template.Resources.ServeSegmentLambdaFunction!.Properties.Environment.Variables.DELIVERY_URL)).toBe(
      '<DeliverSegmentLambdaFunctionUrl.FunctionUrl>',
    );
    expect(render(template.Outputs.DeliveryBaseUrl!.Value)).toBe('<DeliverSegmentLambdaFunctionUrl.FunctionUrl>');
  });

  it('throttles every playback route, reserves no concurrency unless --param asks (any account can take the default), and takes a video id secret', () => {
    const [[, stage]] = resourcesOfType('AWS::ApiGatewayV2::Stage') as [[string, Json]];
    expect(stage.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
    // An account whose whole concurrency is 10 can reserve none: by default nothing is.
    const reserving = Object.entries(template.Resources).filter(([, r]) => r.Properties?.ReservedConcurrentExecutions !== undefined);
    expect(reserving).toEqual([]);
    // Other limits, and a reservation asked for.
    const out = join(dir, 'out-params');
    const secret = 'a-secret-of-16-chars-or-more';
    const run = serverless([
      'package',
      '--stage',
      STAGE,
      '--package',
      out,
      '--param=playbackRateLimit=5',
      '--param=deliverSegmentConcurrency=7',
      `--param=videoIdSecret=${secret}`,
    ]);
    expect(run.status).toBe(0);
    const other = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as typeof template;
    expect(other.Resources.HttpApiStage!.Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: 5,
      ThrottlingBurstLimit: 200,
    });
    expect(other.Resources.ServeSegmentLambdaFunction!.Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(other.Resources.DeliverSegmentLambdaFunction!.Properties.ReservedConcurrentExecutions).toBe(7);
    // A video id secret reaches exactly the functions that make video ids; the stack shows only its check.
    const given = Object.entries(other.Resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.LAMBDA_HLS_VIDEO_ID_SECRET === secret)
      .map(([id]) => id)
      .sort();
    expect(given).toEqual(['CleanUpLambdaFunction', 'StartConversionLambdaFunction', 'ValidateInputLambdaFunction']);
    expect(other.Outputs.VideoIdSecretCheck.Value).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(other.Outputs)).not.toContain(secret);
    expect(template.Outputs.VideoIdSecretCheck).toBeUndefined();
  }, 120_000);

  it('refuses stage names whose names would collide or not fit, naming the rule', () => {
    const { checkStage } = require('../../deploy/stack.js') as { checkStage: (service: string, stage: string) => void };
    for (const stage of ['dev', 'prod', 'ci', 'team-a', 'rehearsal', 'x'.repeat(17)])
      expect(() => checkStage(SERVICE, stage)).not.toThrow();
    expect(() => checkStage(SERVICE, 'dev-seg-x')).toThrow(
      /"seg" may not be a part of it: stage "dev"'s grants match lambda-hls-dev-seg-\*/,
    );
    expect(() => checkStage(SERVICE, 'dev-seg')).toThrow(/"seg" may not be a part/);
    expect(() => checkStage(SERVICE, 'Dev')).toThrow(/lower-case letters, digits and single hyphens/);
    expect(() => checkStage(SERVICE, 'a--b')).toThrow(/single hyphens/);
    expect(() => checkStage(SERVICE, 'x'.repeat(18))).toThrow(/at most 17 characters/);
    // And the framework stops on it, before anything is packaged.
    const run = serverless(['package', '--stage', 'dev-seg-x', '--package', join(dir, 'out-bad')]);
    expect(run.status).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toContain('stage "dev-seg-x" cannot be deployed');
  }, 120_000);

  it("attaches the ffmpeg layer to ValidateInput, SegmentMedia, EncodeChunk, MakeCaptions and MakePreviews only, with both binaries, within Lambda's size limit", () => {
    const withLayer = resourcesOfType('AWS::Lambda::Function')
      .filter(([, p]) => p.Layers)
      .map(([id, p]) => [id, p.Layers]);
    expect(withLayer).toEqual([
      ['ValidateInputLambdaFunction', [{ Ref: 'FfmpegLambdaLayer' }]],
      ['SegmentMediaLambdaFunction', [{ Ref: 'FfmpegLambdaLayer' }]],
      ['EncodeChunkLambdaFunction', [{ Ref: 'FfmpegLambdaLayer' }]],
      ['MakeCaptionsLambdaFunction', [{ Ref: 'FfmpegLambdaLayer' }]],
      ['MakePreviewsLambdaFunction', [{ Ref: 'FfmpegLambdaLayer' }]],
    ]);
    // One layer per stage: a plain "ffmpeg" would be shared by every stage of the account.
    expect(template.Resources.FfmpegLambdaLayer!.Properties.LayerName).toBe(`${SERVICE}-${STAGE}-ffmpeg`);
    // The layer goes exactly where the step table says media is used.
    expect(withLayer.map(([id]) => id)).toEqual(functionsWithMedia().map((key) => `${logical(key)}LambdaFunction`));
    for (const id of ['ValidateInputLambdaFunction', 'SegmentMediaLambdaFunction', 'EncodeChunkLambdaFunction']) {
      expect(template.Resources[id]!.Properties.Environment.Variables).toMatchObject({
        FFMPEG_PATH: '/opt/bin/ffmpeg',
        FFPROBE_PATH: '/opt/bin/ffprobe',
      });
    }
    const layer = zipEntries(join(dir, 'out', 'ffmpeg.zip')).filter((e) => !e.name.endsWith('/'));
    expect(layer.map((e) => e.name).sort()).toEqual(['ORIGIN', 'bin/ffmpeg', 'bin/ffprobe']);
    // What is deployed is the ffmpeg the tests ran: npm run build:ffmpeg's (the tests' prerequisites build it), byte for byte.
    for (const name of ['ffmpeg', 'ffprobe'] as const) {
      const built = sourceBuilt(name);
      expect(built).toBeDefined();
      expect(layer.find((e) => e.name === `bin/${name}`)!.crc32).toBe(crc32(readFileSync(built!)));
    }
    const unzipped = layer.reduce((sum, e) => sum + e.uncompressedSize, 0);
    const biggestFunction = Math.max(...zipEntries(join(dir, 'out', 'segmentMedia.zip')).map((e) => e.uncompressedSize)) * 10;
    expect(unzipped + biggestFunction).toBeLessThan(250 * 1024 * 1024);
    expect(statSync(join(dir, 'out', 'ffmpeg.zip')).size).toBeGreaterThan(10e6);
  });

  it('gives every Task state at least as long as its function may run', () => {
    const [[, machine]] = resourcesOfType('AWS::StepFunctions::StateMachine') as [[string, Json]];
    const [text] = machine.DefinitionString['Fn::Sub'] as [string];
    const tasks: [string, number][] = [];
    const visit = (states: Record<string, Json>) => {
      for (const [name, state] of Object.entries(states)) {
        if (state.Type === 'Task') tasks.push([name, state.TimeoutSeconds]);
        if (state.ItemProcessor) visit(state.ItemProcessor.States);
      }
    };
    visit(JSON.parse(text).States);
    for (const [state, seconds] of tasks) {
      const functionTimeout = template.Resources[`${state}LambdaFunction`]!.Properties.Timeout as number;
      expect({ state, enough: seconds >= functionTimeout }).toEqual({ state, enough: true });
    }
    expect(tasks).toHaveLength(11);
  });

  it('gives each function exactly the variables its step and its ports read, and nothing else', () => {
    const expected = functionVariables();
    for (const [id, props] of resourcesOfType('AWS::Lambda::Function')) {
      const key = `${id[0]!.toLowerCase()}${id.slice(1).replace(/LambdaFunction$/, '')}` as FunctionKey;
      const names = Object.keys(props.Environment.Variables).filter((name) => name !== 'NODE_OPTIONS');
      expect({ key, names: names.sort() }).toEqual({ key, names: expected[key] });
    }
    expect(Object.keys(expected)).toHaveLength(FUNCTIONS.length);
  });

  it('gives the stack outputs the CLI looks up', () => {
    expect(render(template.Outputs.InputBucketName.Value)).toBe('<InputBucket>');
    expect(render(template.Outputs.StateMachineArn.Value)).toBe('<ConvertVideo>');
    expect(render(template.Outputs.PlaybackBaseUrl.Value)).toBe('<HttpApi.ApiEndpoint>');
    expect(template.Outputs.SegmentFunctionPrefix.Value).toBe(PREFIX);
    for (const purpose of ['input', 'work', 'output']) {
      expect(render(template.Resources[`${logical(purpose)}Bucket`]!.Properties.BucketName)).toBe(bucketName(purpose));
    }
  });
});

describe('IAM: least privilege, statement by statement', () => {
  function statementsOf(functionKey: string): Json[] {
    const fn = template.Resources[`${logical(functionKey)}LambdaFunction`]!;
    const roleId = render(fn.Properties.Role).replace(/^<|\.Arn>$/g, '');
    const role = template.Resources[roleId]!;
    expect(role.Type).toBe('AWS::IAM::Role');
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    return role.Properties.Policies.flatMap((p: Json) => render(p.PolicyDocument.Statement));
  }

  /** action → resources, over every Allow statement of the function's role (logs excluded). */
  function grants(functionKey: string): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const s of statementsOf(functionKey)) {
      expect(s.Effect).toBe('Allow');
      for (const action of [s.Action].flat() as string[]) {
        if (action.startsWith('logs:')) continue;
        out[action] = [...(out[action] ?? []), ...[s.Resource].flat()].sort();
      }
    }
    return out;
  }

  it('gives each function its own role', () => {
    const roles = FUNCTIONS.map((f) => render(template.Resources[`${logical(f)}LambdaFunction`]!.Properties.Role));
    expect(new Set(roles).size).toBe(FUNCTIONS.length);
  });

  it('lets each function write only its own log group', () => {
    for (const f of FUNCTIONS) {
      const logs = statementsOf(f).filter((s) => [s.Action].flat().some((a: string) => a.startsWith('logs:')));
      expect(logs).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: `arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/${SERVICE}-${STAGE}-${f}:*`,
        },
      ]);
    }
  });

  it('grants each function exactly the actions it uses, on exactly its resources', () => {
    const ROUTES = `${bucket('output')}/routes/*`;
    const PLAYLISTS = `${bucket('output')}/v/*`;
    const LEDGER = `${bucket('work')}/quota/*`;
    const expected: Record<string, Record<string, string[]>> = {
      // The route record only, to refuse rebuilding a published revision (ValidateInput, PackageBatch, WritePlaylist).
      validateInput: { 's3:GetObject': [objects('input'), ROUTES], 's3:ListBucket': [bucket('input'), bucket('output')] },
      // The code storage ledger is read (and written, with the rest of the work bucket) to reserve.
      segmentMedia: {
        's3:GetObject': [objects('input'), LEDGER],
        's3:ListBucket': [bucket('input'), bucket('work')],
        's3:PutObject': [objects('work')],
        's3:AbortMultipartUpload': [objects('work')],
        'lambda:GetAccountSettings': ['*'],
      },
      encodeChunk: {
        's3:GetObject': [objects('input'), objects('work')],
        's3:ListBucket': [bucket('input'), bucket('work')],
        's3:PutObject': [objects('work')],
        's3:AbortMultipartUpload': [objects('work')],
      },
      joinChunks: {
        's3:GetObject': [objects('work')],
        's3:PutObject': [objects('work')],
        's3:DeleteObject': [objects('work')],
        's3:ListBucket': [bucket('work')],
        'lambda:GetAccountSettings': ['*'],
      },
      packageBatch: {
        's3:GetObject': [objects('work'), ROUTES],
        's3:PutObject': [objects('work')],
        's3:DeleteObject': [objects('work')],
        's3:ListBucket': [bucket('work'), bucket('output')],
        'lambda:CreateFunction': [SEGMENT_FUNCTIONS],
        'lambda:GetFunction': [SEGMENT_FUNCTIONS],
        'lambda:UpdateFunctionCode': [SEGMENT_FUNCTIONS],
        'iam:PassRole': ['<SegmentPackageRole.Arn>'],
      },
      computeOffsets: {
        's3:GetObject': [objects('work')],
        's3:PutObject': [objects('work')],
        's3:ListBucket': [bucket('work')],
        'lambda:GetFunction': [SEGMENT_FUNCTIONS],
      },
      // The sidecars and the source (ffmpeg reads its text streams), the offsets, the first package by
      // range (its first timestamps); the tracks and their playlists under v/* only, never a route record.
      makeCaptions: {
        's3:GetObject': [objects('input'), objects('work'), ROUTES],
        's3:ListBucket': [bucket('input'), bucket('work'), bucket('output')],
        's3:PutObject': [PLAYLISTS],
        'lambda:GetFunction': [SEGMENT_FUNCTIONS],
      },
      // Playlists only (v/*): never a route record.
      writePlaylist: {
        's3:GetObject': [objects('work'), ROUTES],
        's3:ListBucket': [bucket('work'), bucket('output')],
        's3:PutObject': [PLAYLISTS],
      },
      // The source read by ffmpeg; the pictures under v/* only (deleted again when one could not be made), never a route record.
      makePreviews: {
        's3:GetObject': [objects('input'), ROUTES],
        's3:ListBucket': [bucket('input'), bucket('output')],
        's3:PutObject': [PLAYLISTS],
        's3:DeleteObject': [PLAYLISTS],
      },
      // The route record read and written; retired revisions' playlists deleted.
      registerRoute: {
        's3:GetObject': [ROUTES, objects('work')],
        's3:PutObject': [ROUTES, LEDGER],
        's3:DeleteObject': [PLAYLISTS, objects('work')],
        's3:ListBucket': [bucket('output'), bucket('work')],
        'lambda:DeleteFunction': [SEGMENT_FUNCTIONS],
      },
      // The route record read (to spare what it serves), a failed run's playlist deleted: never a record.
      cleanUp: {
        's3:GetObject': [ROUTES, LEDGER],
        's3:PutObject': [LEDGER],
        's3:DeleteObject': [PLAYLISTS, objects('work')],
        's3:ListBucket': [bucket('output'), bucket('work')],
        'lambda:DeleteFunction': [SEGMENT_FUNCTIONS],
      },
      // Public: they read, and may not list (that would hand out every video id).
      serveSegment: { 's3:GetObject': [objects('output')], 'lambda:GetFunction': [SEGMENT_FUNCTIONS] },
      deliverSegment: { 's3:GetObject': [objects('output')], 'lambda:GetFunction': [SEGMENT_FUNCTIONS] },
      startConversion: {
        'states:StartExecution': ['<ConvertVideo>'],
        'states:DescribeExecution': [`arn:aws:states:us-east-1:123456789012:execution:${SERVICE}-${STAGE}-convert-video:*`],
        'sqs:SendMessage': ['<FailedUploadsQueue.Arn>'],
      },
    };
    for (const f of FUNCTIONS) {
      const sorted = Object.fromEntries(Object.entries(expected[f]!).map(([a, r]) => [a, [...r].sort()]));
      expect({ function: f, grants: grants(f) }).toEqual({ function: f, grants: sorted });
    }
  });

  it('has no wildcard actions and no "*" resource except the account-level GetAccountSettings', () => {
    for (const f of FUNCTIONS) {
      for (const s of statementsOf(f)) {
        const actions = [s.Action].flat() as string[];
        for (const action of actions) expect({ f, action }).toEqual({ f, action: expect.stringMatching(/^[a-z0-9]+:[A-Za-z]+$/) });
        if ([s.Resource].flat().includes('*')) expect({ f, actions }).toEqual({ f, actions: ['lambda:GetAccountSettings'] });
        for (const resource of [s.Resource].flat() as string[]) {
          if (resource.startsWith('arn:aws:lambda:')) expect(resource).toBe(SEGMENT_FUNCTIONS);
        }
      }
    }
  });

  it('passes only the segment role, and only to Lambda', () => {
    const passing = FUNCTIONS.filter((f) => statementsOf(f).some((s) => [s.Action].flat().includes('iam:PassRole')));
    expect(passing).toEqual(['packageBatch']);
    const pass = statementsOf('packageBatch').find((s) => [s.Action].flat().includes('iam:PassRole'));
    expect(pass).toEqual({
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: '<SegmentPackageRole.Arn>',
      Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
    });
  });

  it('gives the segment packages a role with no permissions at all, and that role to the code store', () => {
    const role = template.Resources.SegmentPackageRole!.Properties;
    expect(role.Policies).toBeUndefined();
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(role.PermissionsBoundary).toBeUndefined();
    expect(render(role.AssumeRolePolicyDocument.Statement)).toEqual([
      { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
    const env = template.Resources.PackageBatchLambdaFunction!.Properties.Environment.Variables;
    expect(render(env.SEGMENT_ROLE_ARN)).toBe('<SegmentPackageRole.Arn>');
    expect(env.LAMBDA_HLS_FUNCTION_PREFIX).toBe(PREFIX);
    expect(render(env.WORK_BUCKET)).toBe(bucketName('work'));
  });
});

/** A port on 127.0.0.1 that nothing listens on: any AWS call a handler makes is refused at once. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const VIDEO = 'clip-1a2b3c';
const JOB = {
  videoId: VIDEO,
  revision: 'abcd1234',
  source: { key: 'clip.mp4', bytes: 1, extension: '.mp4', kind: 'video' },
  media: { formatName: 'mov,mp4', durationSeconds: 1 },
  options: { segmentSeconds: 10, profile: 'source', ladder: 'source' },
};
/** For each function, an event of the shape its caller sends (the state machine, the HTTP API, the input bucket). */
const WELL_FORMED: Record<FunctionKey, unknown> = {
  validateInput: { source: { key: 'clip.mp4' }, revision: 'abcd1234' },
  segmentMedia: JOB,
  encodeChunk: { videoId: VIDEO, revision: 'abcd1234', chunk: 0 },
  joinChunks: { job: JOB },
  packageBatch: { videoId: VIDEO, revision: 'abcd1234', batch: 0 },
  computeOffsets: { job: JOB, manifestKey: `${VIDEO}/abcd1234/manifest.json`, batches: [0] },
  makeCaptions: {
    job: { ...JOB, captions: [{ file: 'clip.en.srt', format: 'srt', language: 'en' }] },
    offsetsKey: `${VIDEO}/abcd1234/offsets.json`,
  },
  writePlaylist: { job: JOB, offsetsKey: `${VIDEO}/abcd1234/offsets.json` },
  makePreviews: { job: JOB },
  registerRoute: {
    job: JOB,
    playlist: { playlistKey: 'v/x/index.m3u8', durationSeconds: 1 },
    offsetsKey: `${VIDEO}/abcd1234/offsets.json`,
  },
  cleanUp: { error: { Error: 'NotMedia', Cause: 'x' }, job: JOB, revision: 'abcd1234' },
  serveSegment: { rawPath: `/v/${VIDEO}/index.m3u8`, requestContext: { http: { method: 'GET' } } },
  deliverSegment: { rawPath: `/v/${VIDEO}/index.m3u8`, requestContext: { http: { method: 'GET' } } },
  startConversion: { Records: [{ s3: { object: { key: 'clip.mp4', eTag: 'e' } } }] },
};

/**
 * Runs in the unzipped bundle's folder: the handler with an empty event, then with a well-formed
 * one. A streaming handler (the delivery route) is called as Lambda's runtime calls it, with the
 * awslambda global the runtime provides and a response stream.
 */
const CALL_TWICE = `
const { Writable } = require('node:stream');
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
globalThis.awslambda = {
  streamifyResponse(h) { h[STREAMING] = 'response'; return h; },
  HttpResponseStream: { from(s, p) { s.write(JSON.stringify(p)); s.write(Buffer.alloc(8)); return s; } },
};
const outcome = (p) => Promise.resolve().then(p).then(() => ({ ok: true }), (e) => ({ name: e.name, code: e.code, message: String(e.message).slice(0, 300) }));
const { handler } = require(process.argv[1]);
const call = (event) => handler[STREAMING] ? handler(event, new Writable({ write(c, e, done) { done(); } }), {}) : handler(event);
(async () => {
  const empty = await outcome(() => call({}));
  const wellFormed = await outcome(() => call(JSON.parse(process.argv[2])));
  process.stdout.write(JSON.stringify({ empty, wellFormed }));
})();
`;

describe('every packaged function starts as deployed: its bundle alone, with its template environment', () => {
  let port: number;
  beforeAll(async () => {
    port = await closedPort();
  });

  it.each(FUNCTIONS)('%s: refuses an empty event by name or answers it, and reaches AWS with a well-formed one', (key) => {
    const props = template.Resources[`${logical(key)}LambdaFunction`]!.Properties;
    // An empty folder outside the project: nothing but the bundle, no node_modules to fall back on.
    const root = join(dir, 'unzipped', key);
    mkdirSync(root, { recursive: true });
    const unzip = spawnSync('unzip', ['-q', join(dir, 'out', `${key}.zip`), '-d', root], { encoding: 'utf8' });
    expect(unzip.status).toBe(0);
    const handlerFile = join(root, `${(props.Handler as string).replace(/\.handler$/, '')}.js`);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      // What Lambda's runtime sets, with credentials that sign but reach nothing.
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDSMOKETEST',
      AWS_SECRET_ACCESS_KEY: 'smoke-test',
      LAMBDA_TASK_ROOT: root,
      AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
      AWS_MAX_ATTEMPTS: '1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...(render(props.Environment.Variables) as Record<string, string>),
    };
    const run = spawnSync(process.execPath, ['-e', CALL_TWICE, handlerFile, JSON.stringify(WELL_FORMED[key as FunctionKey])], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    // What it logged: one structured line per invocation (Powertools Logger; errors go to stderr), nothing else.
    const output = `${run.stdout}\n${run.stderr}`.split('\n');
    const logLines = output.filter((line) => line.startsWith('{"level"')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const other = run.stderr.split('\n').filter((line) => line && !line.startsWith('{"level"') && !/^\(node:\d+\) /.test(line));
    expect({ key, status: run.status, other }).toEqual({ key, status: 0, other: [] });
    expect({ key, logged: logLines.length, services: [...new Set(logLines.map((l) => l.service))] }).toEqual({
      key,
      logged: 2,
      services: ['lambda-hls'],
    });
    const { empty, wellFormed } = JSON.parse(run.stdout.split('\n').pop()!) as Record<
      'empty' | 'wellFormed',
      { ok?: true; name?: string; code?: string; message?: string }
    >;
    // Started: the empty event was parsed and refused as malformed input, or answered without AWS.
    expect({ key, empty: empty.ok ? 'answered' : empty.name }).toEqual({
      key,
      empty: expect.stringMatching(/^(answered|InvalidRequest)$/),
    });
    // Built its ports from its environment, loaded what they need, and sent its first request, whose
    // refused connection reaches the state machine under the name it retries.
    expect({ key, name: wellFormed.name, refused: /ECONNREFUSED/.test(wellFormed.message ?? '') }).toEqual({
      key,
      name: 'TransientNetworkError',
      refused: true,
    });
  });
});

describe('osls, the maintained fork of Serverless Framework v3', () => {
  it('packages the same template as Serverless v3, and the same bundles', () => {
    const out = join(dir, 'out-osls');
    const run = serverless(['package', '--stage', STAGE, '--package', out], OSLS);
    expect({ status: run.status, stderr: run.status === 0 ? '' : `${run.stdout}${run.stderr}` }).toEqual({ status: 0, stderr: '' });
    // Each packaging uploads its artifacts under a folder named by the time it ran, and the layer's
    // hash output is the hash of its zip, which osls compresses differently; nothing else may differ.
    const written = (folder: string) => {
      const text = readFileSync(join(folder, 'cloudformation-template-update-stack.json'), 'utf8');
      const parsed = JSON.parse(text.replace(/serverless\/lambda-hls\/ci\/\d+-[^/"]+\//g, 'serverless/lambda-hls/ci/<time>/'));
      expect(parsed.Outputs.FfmpegLambdaLayerHash.Value).toMatch(/^[0-9a-f]{40}$/);
      parsed.Outputs.FfmpegLambdaLayerHash.Value = '<hash of the layer zip>';
      return parsed;
    };
    expect(written(out)).toEqual(written(join(dir, 'out')));
    // The same files in every zip, byte for byte (the layer's is compressed differently: osls zips at another level).
    const entries = (zip: string) => {
      const listed = parseCentralDirectory(readFileSync(zip), 0);
      if (!Array.isArray(listed)) throw new Error(`${zip}: no central directory`);
      return listed.map((e) => [e.name, e.crc32, e.uncompressedSize]).sort();
    };
    const zips = readdirSync(out).filter((f) => f.endsWith('.zip'));
    expect(zips.length).toBe(FUNCTIONS.length + 1);
    for (const zip of zips) expect([zip, entries(join(out, zip))]).toEqual([zip, entries(join(dir, 'out', zip))]);
  });
});

describe('no Serverless custom resources', () => {
  it("has none: v3's custom-resource functions run nodejs18.x, whose creation AWS blocks since 2026-06-01", () => {
    const types = new Set(Object.values(template.Resources).map((r) => r.Type));
    expect([...types].filter((t) => t.startsWith('Custom::') || t === 'AWS::CloudFormation::CustomResource')).toEqual([]);
    // Every function is one of ours, on the current runtime; none is the framework's (CustomDashresource…).
    const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    expect(functions.map(([id]) => id).sort()).toEqual(FUNCTIONS.map((key) => `${logical(key)}LambdaFunction`).sort());
    expect(new Set(functions.map(([, r]) => r.Properties.Runtime))).toEqual(new Set(['nodejs24.x']));
    expect(readdirSync(join(dir, 'out')).filter((f) => /custom-resources/i.test(f))).toEqual([]);
  });
});

describe('serverless remove', () => {
  it("deletes the stage's videos and segment functions first, and stops when it cannot", () => {
    // Without credentials `lambda-hls delete --all` cannot run, so the stack must stay.
    const run = serverless(['remove', '--stage', STAGE]);
    expect(run.status).not.toBe(0);
    const output = `${run.stdout}${run.stderr}`;
    expect(output).toContain(`lambda-hls: deleting every video and segment function of ${STAGE} before the stack`);
    expect(output).toContain('--stage needs AWS credentials');
    expect(output).toContain(`lambda-hls delete --all --stage ${STAGE} --region us-east-1 failed, so the stack was not removed`);
  });
});
