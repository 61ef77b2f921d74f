'use strict';
// The CloudFormation serverless.yml does not write by itself: the three buckets, the S3 trigger
// and its failed-uploads queue, one least-privilege role per function, the permission-less role of the segment packages, and
// the outputs the CLI looks up. Read by serverless.yml as ${file(deploy/stack.js):...}.
//
// Bucket names are built from strings (not Ref/GetAtt of the buckets), so the input bucket can
// name start-conversion in its notification while the roles name the buckets: no cycle.

const { composition } = require('./composition');

const partition = { Ref: 'AWS::Partition' };
const region = { Ref: 'AWS::Region' };
const account = { Ref: 'AWS::AccountId' };
const join = (...parts) => ({ 'Fn::Join': ['', parts] });

/** Serverless function key → logical id prefix, as the framework names them (validateInput → ValidateInput). */
const logical = (key) => key[0].toUpperCase() + key.slice(1);

/** The first group of the stack's id (arn:…:stack/<name>/<uuid>): unique to this stack, not to its name. */
const stackIdFragment = {
  'Fn::Select': [0, { 'Fn::Split': ['-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }] }],
};

function bucketNamesFor(base) {
  // S3 names are global and lower case: the stack's account and region make them unique.
  const name = (purpose) => join(`${base}-${purpose}-`, account, '-', region);
  return {
    // The input bucket outlives its stack (Retain: the uploads are the user's). Named after the stack's
    // id, a first deploy that rolls back leaves it under a name the next deploy does not ask for.
    input: join(`${base}-input-`, account, '-', stackIdFragment),
    work: name('work'),
    output: name('output'),
  };
}

function bucketArn(name) {
  return join('arn:', partition, ':s3:::', name);
}

function objectsArn(name) {
  return join('arn:', partition, ':s3:::', name, '/*');
}

function privateBucket(name, extra = {}) {
  return {
    Type: 'AWS::S3::Bucket',
    Properties: {
      BucketName: name,
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: true }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      ...extra,
      LifecycleConfiguration: {
        Rules: [
          { Id: 'abort-incomplete-uploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
          ...(extra.LifecycleConfiguration?.Rules ?? []),
        ],
      },
    },
  };
}

function tlsOnlyPolicy(bucketLogicalId, name) {
  return {
    Type: 'AWS::S3::BucketPolicy',
    Properties: {
      Bucket: { Ref: bucketLogicalId },
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'TlsOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [bucketArn(name), objectsArn(name)],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    },
  };
}

/** The S3 action of each verb a step's access names (src/steps/entry.ts `Access`). */
const S3_ACTIONS = { get: 'GetObject', put: 'PutObject', delete: 'DeleteObject', 'abort upload': 'AbortMultipartUpload' };
const LAMBDA_ACTIONS = { create: 'CreateFunction', read: 'GetFunction', update: 'UpdateFunctionCode', delete: 'DeleteFunction' };
const STATES_ACTIONS = { start: 'StartExecution', describe: 'DescribeExecution' };

/**
 * What each function may do, statement by statement: made from its step's access in the step table
 * (each step module declares what it does through its ports), never typed here. Reading an object
 * that may be missing needs s3:ListBucket on its bucket too, or S3 answers 403 instead of 404 and a
 * missing input or route could not be told from a refusal; a step asks for it as `list`.
 */
function permissions({ buckets, functionPrefix, stateMachine, executions, failedUploads }) {
  // An area is a bucket (`work`) or one prefix of it (`output/routes`, `work/quota`); ListBucket is the bucket's.
  const areaArn = (area) => {
    const [bucket, prefix] = area.split('/');
    return join('arn:', partition, ':s3:::', buckets[bucket], prefix ? `/${prefix}/*` : '/*');
  };
  const bucketOf = (area) => bucketArn(buckets[area.split('/')[0]]);
  const objectStatements = (objects = {}) =>
    Object.entries(objects).flatMap(([area, verbs]) => {
      const actions = verbs.filter((v) => v !== 'list').map((v) => `s3:${S3_ACTIONS[v]}`);
      return [
        ...(actions.length > 0 ? [{ Effect: 'Allow', Action: actions, Resource: areaArn(area) }] : []),
        ...(verbs.includes('list') ? [{ Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucketOf(area) }] : []),
      ];
    });
  const segmentFunctions = join('arn:', partition, ':lambda:', region, ':', account, ':function:', functionPrefix, '*');
  const codeStatements = (code = []) =>
    code.length === 0
      ? []
      : [
          { Effect: 'Allow', Action: code.map((v) => `lambda:${LAMBDA_ACTIONS[v]}`), Resource: segmentFunctions },
          // Creating a segment function passes it its role (which has no permissions at all).
          ...(code.includes('create')
            ? [
                {
                  Effect: 'Allow',
                  Action: ['iam:PassRole'],
                  Resource: { 'Fn::GetAtt': ['SegmentPackageRole', 'Arn'] },
                  Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
                },
              ]
            : []),
        ];
  // Account-level and read-only; IAM has no resource to scope it to.
  const accountStatements = (wanted) => (wanted ? [{ Effect: 'Allow', Action: ['lambda:GetAccountSettings'], Resource: '*' }] : []);
  const executionStatements = (verbs = []) =>
    verbs.map((v) => ({ Effect: 'Allow', Action: [`states:${STATES_ACTIONS[v]}`], Resource: v === 'start' ? stateMachine : executions }));
  return Object.fromEntries(
    Object.entries(composition().functionAccess()).map(([key, { access, invokedBy }]) => [
      key,
      [
        ...objectStatements(access.objects),
        ...codeStatements(access.code),
        ...accountStatements(access.accountSettings),
        ...executionStatements(access.executions),
        // An upload's event that still fails after Lambda's retries goes to the failed-uploads
        // queue, which Lambda sends to as the function's own role.
        ...(invokedBy === 'input bucket' ? [{ Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: failedUploads }] : []),
      ],
    ]),
  );
}

const assumedByLambda = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

function functionRole(functionName, statements) {
  const logGroup = join('arn:', partition, ':logs:', region, ':', account, ':log-group:/aws/lambda/', functionName, ':*');
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: assumedByLambda,
      Policies: [
        {
          PolicyName: 'least-privilege',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: logGroup }, ...statements],
          },
        },
      ],
    },
  };
}

/**
 * Each function's environment: exactly the variables its step's ports and the step itself read
 * (src/composition), with the values this stack gives them.
 */
function environments({ buckets, functionPrefix, segmentRuntime, videoIdSecret, appleRedirects, encoding, packaging }) {
  const values = {
    INPUT_BUCKET: buckets.input,
    WORK_BUCKET: buckets.work,
    OUTPUT_BUCKET: buckets.output,
    SEGMENT_ROLE_ARN: { 'Fn::GetAtt': ['SegmentPackageRole', 'Arn'] },
    STATE_MACHINE_ARN: { Ref: 'ConvertVideo' },
    DELIVERY_URL: { 'Fn::GetAtt': ['DeliverSegmentLambdaFunctionUrl', 'FunctionUrl'] },
    LAMBDA_HLS_FUNCTION_PREFIX: functionPrefix,
    LAMBDA_HLS_SEGMENT_RUNTIME: segmentRuntime,
    LAMBDA_HLS_VIDEO_ID_SECRET: videoIdSecret,
    LAMBDA_HLS_APPLE_REDIRECTS: appleRedirects ? 'true' : 'false',
    // How transcodes are split: the encodeChunk function's timeout and memory, the Map's concurrency.
    LAMBDA_HLS_ENCODE_TIMEOUT_SECONDS: String(encoding.timeout),
    LAMBDA_HLS_ENCODE_MEMORY_MB: String(encoding.memorySize),
    LAMBDA_HLS_ENCODE_CONCURRENCY: String(encoding.concurrency),
    // How batches of packages are sized: the packageBatch function's timeout.
    LAMBDA_HLS_PACKAGE_TIMEOUT_SECONDS: String(packaging.timeout),
    // The code storage left to the account's other functions.
    LAMBDA_HLS_CODE_HEADROOM_PERCENT: String(packaging.headroom),
    // serve-segment and deliver-segment may read the output bucket, not list it.
    UNLISTED_BUCKETS: 'output',
    // The ffmpeg layer (serverless.yml) puts its binaries here.
    FFMPEG_PATH: '/opt/bin/ffmpeg',
    FFPROBE_PATH: '/opt/bin/ffprobe',
  };
  const environment = {};
  for (const [key, names] of Object.entries(composition().functionVariables())) {
    environment[key] = Object.fromEntries(
      names.map((name) => {
        if (!(name in values)) throw new Error(`deploy/stack.js: no value for ${name}, which ${key} reads`);
        return [name, values[name]];
      }),
    );
  }
  return environment;
}

/**
 * A stage name every name built from it can take: lower-case letters, digits and single hyphens
 * (S3 bucket names, and IAM matches names case-sensitively); short enough for the bucket names
 * (`<service>-<stage>-output-<account>-<region>` within S3's 63 characters); and without a part
 * "seg", since stage `x`'s grants match `<service>-x-seg-*`, which would then include stage
 * `x-seg-…`'s functions. Throws, naming the rule, so `serverless package` and `deploy` stop.
 */
function checkStage(service, stage) {
  // 63 minus "-output-", a 12-digit account, "-" and the longest region name (14).
  const longest = 63 - 8 - 12 - 1 - 14 - service.length - 1;
  const why = !/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(stage)
    ? 'use lower-case letters, digits and single hyphens, starting with a letter'
    : stage.length > longest
      ? `use at most ${longest} characters (the bucket names ${service}-${stage}-output-<account>-<region> must fit S3's 63)`
      : stage.split('-').includes('seg')
        ? `"seg" may not be a part of it: stage "${stage.split('-seg')[0]}"'s grants match ${service}-${stage.split('-seg')[0]}-seg-*, which would include this stage's segment functions`
        : undefined;
  if (why) throw new Error(`stage ${JSON.stringify(stage)} cannot be deployed: ${why}`);
}

/** A whole number within bounds, from a serverless.yml param (a --param may override it). */
function wholeParam(name, raw, min, max) {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`param ${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * What bounds the playback API: requests per second and burst on every route of its stage (API
 * Gateway answers 429 above them), and serve-segment's reserved concurrency (a flood cannot take
 * the account's Lambda concurrency, nor more GetFunction calls than that many functions make),
 * or "none" where the account's concurrency is too small to reserve any (new accounts: 10).
 */
async function playbackLimits(resolveVariable) {
  const reserved = async (name) => {
    const value = String(await resolveVariable(`param:${name}`));
    return value === 'none' ? undefined : wholeParam(name, value, 1, 1000);
  };
  return {
    rate: wholeParam('playbackRateLimit', await resolveVariable('param:playbackRateLimit'), 1, 10000),
    burst: wholeParam('playbackBurstLimit', await resolveVariable('param:playbackBurstLimit'), 1, 5000),
    concurrency: await reserved('serveSegmentConcurrency'),
    delivery: await reserved('deliverSegmentConcurrency'),
  };
}

async function describe({ resolveVariable }) {
  const service = await resolveVariable('self:service');
  const stage = await resolveVariable('sls:stage');
  checkStage(service, stage);
  const limits = await playbackLimits(resolveVariable);
  // Optional: mixed into video ids, so a stream cannot be found from its file name.
  const videoIdSecret = String((await resolveVariable('param:videoIdSecret')) ?? '');
  const appleRedirects = String((await resolveVariable('param:appleRedirects')) ?? 'false') === 'true';
  if (videoIdSecret && videoIdSecret.length < 16)
    throw new Error('param videoIdSecret must be at least 16 characters (a random one: openssl rand -hex 16)');
  const functionPrefix = await resolveVariable('self:custom.functionPrefix');
  const segmentRuntime = await resolveVariable('self:custom.segmentRuntime');
  const encoding = {
    timeout: await resolveVariable('self:functions.encodeChunk.timeout'),
    memorySize: await resolveVariable('self:functions.encodeChunk.memorySize'),
    concurrency: await resolveVariable('param:encodeConcurrency'),
  };
  const packaging = {
    timeout: await resolveVariable('self:functions.packageBatch.timeout'),
    headroom: wholeParam('codeHeadroomPercent', await resolveVariable('param:codeHeadroomPercent'), 0, 90),
  };
  const base = `${service}-${stage}`.toLowerCase();
  const buckets = bucketNamesFor(base);
  const stateMachine = { Ref: 'ConvertVideo' };
  // The executions of that state machine (serverless.yml names it <service>-<stage>-convert-video).
  const executions = join('arn:', partition, ':states:', region, ':', account, `:execution:${service}-${stage}-convert-video:*`);

  const failedUploads = { 'Fn::GetAtt': ['FailedUploadsQueue', 'Arn'] };
  const roles = {};
  for (const [key, statements] of Object.entries(permissions({ buckets, functionPrefix, stateMachine, executions, failedUploads }))) {
    roles[`${logical(key)}Role`] = functionRole(`${service}-${stage}-${key}`, statements);
  }

  const resources = {
    InputBucket: {
      ...privateBucket(buckets.input, {
        NotificationConfiguration: {
          // Every upload: start-conversion ignores other extensions itself (S3 suffix filters are case-sensitive, lecture.MP4 counts).
          LambdaConfigurations: [{ Event: 's3:ObjectCreated:*', Function: { 'Fn::GetAtt': ['StartConversionLambdaFunction', 'Arn'] } }],
        },
      }),
      DependsOn: ['StartConversionFromInputBucket'],
      // The uploads are the user's: `serverless remove` keeps the bucket and what is in it.
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    },
    StartConversionFromInputBucket: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        FunctionName: { 'Fn::GetAtt': ['StartConversionLambdaFunction', 'Arn'] },
        Action: 'lambda:InvokeFunction',
        Principal: 's3.amazonaws.com',
        SourceArn: bucketArn(buckets.input),
        SourceAccount: account,
      },
    },
    // start-conversion is invoked asynchronously by the bucket: Lambda retries a failed event twice
    // (a minute, then two, apart) and then hands it to this queue instead of dropping it, where
    // `lambda-hls failed-uploads --stage <stage>` lists it and `--retry` starts its conversion.
    FailedUploadsQueue: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: `${base}-failed-uploads`,
        // SQS's longest: two weeks to notice and retry.
        MessageRetentionPeriod: 1209600,
        SqsManagedSseEnabled: true,
      },
    },
    StartConversionInvokeConfig: {
      Type: 'AWS::Lambda::EventInvokeConfig',
      Properties: {
        FunctionName: { Ref: 'StartConversionLambdaFunction' },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 2,
        // Lambda's own default (6 hours): an event still throttled after it goes to the queue too.
        MaximumEventAgeInSeconds: 21600,
        DestinationConfig: { OnFailure: { Destination: failedUploads } },
      },
    },
    WorkBucket: privateBucket(buckets.work, {
      // Segments, manifests and claims live here only while a conversion runs.
      LifecycleConfiguration: { Rules: [{ Id: 'expire-work-files', Status: 'Enabled', ExpirationInDays: 7 }] },
    }),
    OutputBucket: privateBucket(buckets.output),
    InputBucketPolicy: tlsOnlyPolicy('InputBucket', buckets.input),
    WorkBucketPolicy: tlsOnlyPolicy('WorkBucket', buckets.work),
    OutputBucketPolicy: tlsOnlyPolicy('OutputBucket', buckets.output),
    // Segment packages are stored, never invoked: their role may do nothing at all.
    SegmentPackageRole: {
      Type: 'AWS::IAM::Role',
      Properties: { AssumeRolePolicyDocument: assumedByLambda, Description: 'lambda-hls segment packages: no permissions' },
    },
    // A function URL open to anyone needs both grants since October 2025 (Serverless v3 writes only
    // the first, DeliverSegmentLambdaPermissionFnUrl); without this one every request is a 403.
    DeliverSegmentLambdaPermissionFn: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        FunctionName: { 'Fn::GetAtt': ['DeliverSegmentLambdaFunction', 'Arn'] },
        Action: 'lambda:InvokeFunction',
        Principal: '*',
        InvokedViaFunctionUrl: true,
      },
    },
    ...roles,
  };

  const outputs = {
    InputBucketName: { Description: 'Upload .mp4 and .mp3 files here', Value: { Ref: 'InputBucket' } },
    WorkBucketName: { Description: 'Segments and manifests while a conversion runs', Value: { Ref: 'WorkBucket' } },
    OutputBucketName: { Description: 'Playlists and the route registry', Value: { Ref: 'OutputBucket' } },
    StateMachineArn: { Description: 'The ConvertVideo state machine', Value: { Ref: 'ConvertVideo' } },
    PlaybackBaseUrl: {
      Description: 'Play <PlaybackBaseUrl>/v/<videoId>/index.m3u8 (302s), or open <PlaybackBaseUrl>/watch/<videoId>',
      Value: { 'Fn::GetAtt': ['HttpApi', 'ApiEndpoint'] },
    },
    DeliveryBaseUrl: {
      Description: 'Web players on any page: <DeliveryBaseUrl>v/<videoId>/index.m3u8 (the bytes, with CORS)',
      Value: { 'Fn::GetAtt': ['DeliverSegmentLambdaFunctionUrl', 'FunctionUrl'] },
    },
    FailedUploadsQueueUrl: {
      Description: 'Uploads whose conversion could not be started: lambda-hls failed-uploads --stage <stage> [--retry]',
      Value: { Ref: 'FailedUploadsQueue' },
    },
    SegmentFunctionPrefix: { Description: 'Segment packages are functions named <prefix><videoId>-<revision>-<n>', Value: functionPrefix },
    // Not the secret: a keyed hash of a fixed text, so the CLI can tell whether it holds the same one.
    ...(videoIdSecret && {
      VideoIdSecretCheck: {
        Description: 'Video ids mix in a secret: the CLI needs LAMBDA_HLS_VIDEO_ID_SECRET set to it for --stage',
        Value: composition().videoIdSecretCheck(videoIdSecret),
      },
    }),
  };

  // Properties of resources the framework generates (merged one level deep, so DefaultRouteSettings is whole).
  const extensions = {
    HttpApiStage: {
      Properties: {
        DefaultRouteSettings: { DetailedMetricsEnabled: false, ThrottlingRateLimit: limits.rate, ThrottlingBurstLimit: limits.burst },
      },
    },
    ...(limits.concurrency !== undefined && {
      ServeSegmentLambdaFunction: { Properties: { ReservedConcurrentExecutions: limits.concurrency } },
    }),
    ...(limits.delivery !== undefined && {
      DeliverSegmentLambdaFunction: { Properties: { ReservedConcurrentExecutions: limits.delivery } },
    }),
  };

  return {
    bucketNames: buckets,
    environment: environments({ buckets, functionPrefix, segmentRuntime, videoIdSecret, appleRedirects, encoding, packaging }),
    resources: { Resources: resources, Outputs: outputs, extensions },
  };
}

module.exports = describe;
module.exports.checkStage = checkStage;
