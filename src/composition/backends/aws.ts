// The aws backend: S3, Lambda and Step Functions through the SDK v3. Each port, and each SDK
// module behind it, is loaded on first use; clients get an empty config, so the region and
// endpoints come from the environment (AWS_REGION, AWS_ENDPOINT_URL_<SERVICE>) in Lambda, and
// from --region for the CLI's --stage. Every client names network and server faults
// TransientNetworkError once its own retries are spent (../../adapters/aws/transient.ts).
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { LambdaCodeStore } from '../../adapters/aws/code-store';
import type { StepFunctionsExecutions } from '../../adapters/aws/executions';
import type { FailedUploadsQueue } from '../../adapters/aws/failed-uploads';
import type { S3ObjectStore } from '../../adapters/aws/object-store';
import type { StackOutputs } from '../../adapters/aws/stack';
import type { PortName, Ports } from '../../ports';
import type { SettingName, Settings } from '../settings';
import { withTransientErrors } from '../../adapters/aws/transient';
import { BackendUnavailable, lazily } from './lazy';

/** What the aws backend is built from: a deployed function's settings, or a stage's stack outputs. */
export type AwsResources = Pick<
  Settings,
  'inputBucket' | 'workBucket' | 'outputBucket' | 'segmentRoleArn' | 'segmentRuntime' | 'stateMachineArn' | 'ffmpegPath' | 'ffprobePath'
> &
  Partial<Pick<Settings, 'scratchPendingBytes' | 'mediaMemoryMb' | 'unlistedBuckets'>>;

/**
 * The variables each port of this backend reads in a deployed function: the stack gives a
 * function exactly those of the ports its step uses (deploy/stack.js).
 */
export const PORT_VARIABLES: Record<PortName, readonly SettingName[]> = {
  objects: ['INPUT_BUCKET', 'WORK_BUCKET', 'OUTPUT_BUCKET'],
  code: [],
  media: ['FFMPEG_PATH', 'FFPROBE_PATH'],
  executions: ['STATE_MACHINE_ARN'],
  clock: [],
};

function needed(value: string | undefined, name: SettingName): string {
  if (!value) throw new BackendUnavailable(`${name} is not set: the function is not configured by the stack`);
  return value;
}

interface Clients {
  s3: S3Client;
  lambda: LambdaClient;
}

function clients(region: string | undefined): Clients {
  const config = region ? { region } : {};
  return lazily<Clients>({
    s3: () => withTransientErrors(new (require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3')).S3Client(config)),
    lambda: () =>
      withTransientErrors(new (require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda')).LambdaClient(config)),
  });
}

function objectStore(sdk: Clients, resources: AwsResources): S3ObjectStore {
  const { S3ObjectStore } = require('../../adapters/aws/object-store') as typeof import('../../adapters/aws/object-store');
  return new S3ObjectStore(
    sdk.s3,
    {
      input: needed(resources.inputBucket, 'INPUT_BUCKET'),
      work: needed(resources.workBucket, 'WORK_BUCKET'),
      output: needed(resources.outputBucket, 'OUTPUT_BUCKET'),
    },
    resources.unlistedBuckets ?? [],
  );
}

function codeStore(sdk: Clients, resources: AwsResources): LambdaCodeStore {
  const { LambdaCodeStore } = require('../../adapters/aws/code-store') as typeof import('../../adapters/aws/code-store');
  // The role and the staging bucket are asked for only when a package is created.
  return new LambdaCodeStore(sdk.lambda, sdk.s3, {
    roleArn: () => needed(resources.segmentRoleArn, 'SEGMENT_ROLE_ARN'),
    stagingBucket: () => needed(resources.workBucket, 'WORK_BUCKET'),
    runtime: resources.segmentRuntime,
  });
}

function executions(resources: AwsResources, region: string | undefined): StepFunctionsExecutions {
  const { SFNClient } = require('@aws-sdk/client-sfn') as typeof import('@aws-sdk/client-sfn');
  const { StepFunctionsExecutions } = require('../../adapters/aws/executions') as typeof import('../../adapters/aws/executions');
  const sfn = withTransientErrors(new SFNClient(region ? { region } : {}));
  return new StepFunctionsExecutions(sfn, needed(resources.stateMachineArn, 'STATE_MACHINE_ARN'));
}

/** Every port on AWS. In Lambda: `awsBackend(settings())`, region and endpoints from the environment. */
export function awsBackend(resources: AwsResources, region?: string): Ports {
  const sdk = clients(region);
  return lazily<Ports>({
    objects: () => objectStore(sdk, resources),
    code: () => codeStore(sdk, resources),
    media: () => {
      const { ffmpegMediaTool, DEFAULT_LIMITS } =
        require('../../adapters/ffmpeg/media-tool') as typeof import('../../adapters/ffmpeg/media-tool');
      return ffmpegMediaTool(resources, {
        ...DEFAULT_LIMITS,
        pendingBytes: resources.scratchPendingBytes ?? DEFAULT_LIMITS.pendingBytes,
        memoryMb: resources.mediaMemoryMb ?? DEFAULT_LIMITS.memoryMb,
      });
    },
    executions: () => executions(resources, region),
    clock: () => Date.now,
  });
}

/** `--stage <name> [--region R]` on the CLI. */
export interface StageTarget {
  stage: string;
  region?: string;
}

/** A deployed stage as the CLI sees it: its stack's outputs and the stores and executions behind them. */
export interface StageBackend {
  region: string;
  stack: StackOutputs;
  functionPrefix: string;
  objects: S3ObjectStore;
  code: LambdaCodeStore;
  executions: StepFunctionsExecutions;
  /** The queue start-conversion's failed events go to, at the URL the stack gives. */
  failedUploads(url: string): FailedUploadsQueue;
}

/** --region, else the SDK's usual environment variables, else serverless.yml's default. */
function regionOf(target: StageTarget, env: NodeJS.ProcessEnv = process.env): string {
  return target.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
}

/** Finds the stage's stack (DescribeStacks) and connects to what its outputs name. */
export async function connectStage(target: StageTarget): Promise<StageBackend> {
  const region = regionOf(target);
  const { CloudFormationClient } = require('@aws-sdk/client-cloudformation') as typeof import('@aws-sdk/client-cloudformation');
  const { readStackOutputs } = require('../../adapters/aws/stack') as typeof import('../../adapters/aws/stack');
  const stack = await readStackOutputs(new CloudFormationClient({ region }), target.stage, region);
  const resources: AwsResources = {
    inputBucket: stack.inputBucket,
    workBucket: stack.workBucket,
    outputBucket: stack.outputBucket,
    // The CLI never creates packages: it lists, reads and deletes them.
    segmentRoleArn: undefined,
    segmentRuntime: 'provided.al2023', // never used: the CLI creates no packages
    stateMachineArn: stack.stateMachineArn,
    ffmpegPath: undefined,
    ffprobePath: undefined,
  };
  const sdk = clients(region);
  return {
    region,
    stack,
    functionPrefix: stack.functionPrefix,
    objects: objectStore(sdk, resources),
    code: codeStore(sdk, resources),
    executions: executions(resources, region),
    failedUploads(url) {
      const { SQSClient } = require('@aws-sdk/client-sqs') as typeof import('@aws-sdk/client-sqs');
      const { FailedUploadsQueue } = require('../../adapters/aws/failed-uploads') as typeof import('../../adapters/aws/failed-uploads');
      return new FailedUploadsQueue(withTransientErrors(new SQSClient({ region })), url);
    },
  };
}
