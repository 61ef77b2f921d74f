// Ports for a step running as a Lambda handler, built once per cold start from the environment.
// In AWS (the default): S3 and Lambda adapters, bucket names and the segment role from the
// stack's environment variables. LAMBDA_HLS_BACKEND=local points the handlers at the local
// adapters instead (a $LAMBDA_HLS_HOME and a running `lambda-hls serve` for code URLs).
import { tmpdir } from 'node:os';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { LambdaCodeStore } from './aws/code-store';
import { S3ObjectStore } from './aws/object-store';
import type { CodeStore, MediaTool, ObjectStore } from '../ports';
import { ffmpegMediaTool } from './ffmpeg/media-tool';
import type { PackingLimits } from '../core/plan';
import { configFromEnv, localAdapters, stepLimits } from './local/config';

export interface HandlerPorts {
  objects: ObjectStore;
  code: CodeStore;
  media: MediaTool;
  functionPrefix: string;
  maxInputBytes: number;
  maxPackageBytes: number;
  packing: PackingLimits;
  scratchDir: string;
}

export class BackendUnavailable extends Error {
  override readonly name = 'BackendUnavailable' as const;
}

let cached: HandlerPorts | undefined;

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new BackendUnavailable(`${name} is not set: the function is not configured by the stack`);
  return value;
}

export function awsPorts(env: NodeJS.ProcessEnv = process.env): HandlerPorts {
  const s3 = new S3Client({});
  const work = required(env, 'WORK_BUCKET');
  const config = configFromEnv(env);
  return {
    objects: new S3ObjectStore(s3, { input: required(env, 'INPUT_BUCKET'), work, output: required(env, 'OUTPUT_BUCKET') }),
    code: new LambdaCodeStore(new LambdaClient({}), s3, { roleArn: required(env, 'SEGMENT_ROLE_ARN'), stagingBucket: work }),
    media: ffmpegMediaTool(),
    functionPrefix: required(env, 'LAMBDA_HLS_FUNCTION_PREFIX'),
    ...stepLimits(config),
    scratchDir: tmpdir(),
  };
}

export function environmentPorts(env: NodeJS.ProcessEnv = process.env): HandlerPorts {
  if (cached) return cached;
  const backend = env.LAMBDA_HLS_BACKEND ?? 'aws';
  if (backend === 'aws') {
    cached = awsPorts(env);
    return cached;
  }
  if (backend !== 'local') throw new BackendUnavailable(`LAMBDA_HLS_BACKEND=${backend}: use aws or local`);
  const config = configFromEnv(env);
  const codeUrl = env.LAMBDA_HLS_CODE_URL ?? 'http://127.0.0.1:8080';
  const { objects, code } = localAdapters(config, () => codeUrl);
  cached = {
    objects,
    code,
    media: ffmpegMediaTool(),
    functionPrefix: config.functionPrefix,
    ...stepLimits(config),
    scratchDir: tmpdir(),
  };
  return cached;
}
