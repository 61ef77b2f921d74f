// Ports for a step running as a Lambda handler, built once per cold start from the environment.
// LAMBDA_HLS_BACKEND=local points the handlers at the local adapters (a $LAMBDA_HLS_HOME and a
// running `lambda-hls serve` for code URLs); the AWS adapters are added with deployment support.
import { tmpdir } from 'node:os';
import type { CodeStore, MediaTool, ObjectStore } from '../ports';
import { ffmpegMediaTool } from './ffmpeg/media-tool';
import { configFromEnv, localAdapters } from './local/config';

export interface HandlerPorts {
  objects: ObjectStore;
  code: CodeStore;
  media: MediaTool;
  functionPrefix: string;
  maxInputBytes: number;
  scratchDir: string;
}

export class BackendUnavailable extends Error {
  override readonly name = 'BackendUnavailable' as const;
}

let cached: HandlerPorts | undefined;

export function environmentPorts(env: NodeJS.ProcessEnv = process.env): HandlerPorts {
  if (cached) return cached;
  const backend = env.LAMBDA_HLS_BACKEND ?? 'aws';
  if (backend !== 'local') {
    throw new BackendUnavailable(`LAMBDA_HLS_BACKEND=${backend}: this build has only the local backend`);
  }
  const config = configFromEnv(env);
  const codeUrl = env.LAMBDA_HLS_CODE_URL ?? 'http://127.0.0.1:8080';
  const { objects, code } = localAdapters(config, () => codeUrl);
  cached = {
    objects,
    code,
    media: ffmpegMediaTool(),
    functionPrefix: config.functionPrefix,
    maxInputBytes: config.maxInputBytes,
    scratchDir: tmpdir(),
  };
  return cached;
}
