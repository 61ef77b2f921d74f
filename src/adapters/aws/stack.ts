// The deployed stack's outputs (serverless.yml, deploy/stack.js): what the CLI needs to reach a
// stage, looked up with DescribeStacks, never typed by hand.
import { DescribeStacksCommand, type CloudFormationClient } from '@aws-sdk/client-cloudformation';

export const SERVICE = 'lambda-hls';

export interface StackOutputs {
  stackName: string;
  inputBucket: string;
  workBucket: string;
  outputBucket: string;
  stateMachineArn: string;
  playbackBaseUrl: string;
  /** The delivery route (a function URL, ending in /): web players' playlists are `<it>v/<id>/index.m3u8`. */
  deliveryBaseUrl: string;
  functionPrefix: string;
  /** Present when the stage mixes a secret into video ids (a keyed hash of a fixed text, not the secret). */
  videoIdSecretCheck?: string;
  /** Where start-conversion's events go once Lambda's retries are spent (stacks deployed before it have none). */
  failedUploadsQueueUrl?: string;
}

export class StackNotDeployed extends Error {
  override readonly name = 'StackNotDeployed' as const;
}

const REQUIRED: Record<Exclude<keyof StackOutputs, 'stackName' | 'videoIdSecretCheck' | 'failedUploadsQueueUrl'>, string> = {
  inputBucket: 'InputBucketName',
  workBucket: 'WorkBucketName',
  outputBucket: 'OutputBucketName',
  stateMachineArn: 'StateMachineArn',
  playbackBaseUrl: 'PlaybackBaseUrl',
  deliveryBaseUrl: 'DeliveryBaseUrl',
  functionPrefix: 'SegmentFunctionPrefix',
};

/** Serverless names the stack `<service>-<stage>`. */
export function stackNameFor(stage: string): string {
  return `${SERVICE}-${stage}`;
}

export async function readStackOutputs(cfn: CloudFormationClient, stage: string, region: string): Promise<StackOutputs> {
  const stackName = stackNameFor(stage);
  let outputs: Record<string, string>;
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    if (!stack || stack.StackStatus?.startsWith('DELETE_')) throw new Error('does not exist');
    outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    if (/does not exist/.test((error as Error).message)) {
      throw new StackNotDeployed(
        `no stack ${stackName} in ${region}: deploy it with npx serverless deploy --stage ${stage} --region ${region}`,
      );
    }
    throw error;
  }
  const missing = Object.values(REQUIRED).filter((key) => !outputs[key]);
  if (missing.length > 0) {
    throw new StackNotDeployed(
      `stack ${stackName} in ${region} has no ${missing.join(', ')} output: deploy this version with npx serverless deploy --stage ${stage}`,
    );
  }
  const found = Object.fromEntries(Object.entries(REQUIRED).map(([field, key]) => [field, outputs[key]!]));
  return {
    stackName,
    ...(found as Omit<StackOutputs, 'stackName'>),
    ...(outputs.VideoIdSecretCheck && { videoIdSecretCheck: outputs.VideoIdSecretCheck }),
    ...(outputs.FailedUploadsQueueUrl && { failedUploadsQueueUrl: outputs.FailedUploadsQueueUrl }),
  };
}
