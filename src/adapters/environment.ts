// Ports for a step running as a Lambda handler, built once per cold start from the environment.
// LAMBDA_HLS_BACKEND=local points the handlers at the local adapters (a $LAMBDA_HLS_HOME and a
// running `lambda-hls serve` for code URLs); the AWS adapters are added with deployment support.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CodeStore, MediaTool, ObjectStore } from '../ports';
import { ffmpegMediaTool } from './ffmpeg/media-tool';
import { LocalCodeStore } from './local/code-store';
import { LocalObjectStore } from './local/object-store';
import { homeDir } from './local/paths';
import { UrlSigner } from './local/signer';

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
  const home = homeDir(env);
  const codeUrl = env.LAMBDA_HLS_CODE_URL ?? 'http://127.0.0.1:8080';
  cached = {
    objects: new LocalObjectStore(join(home, 'buckets')),
    code: new LocalCodeStore({ root: join(home, 'functions'), signer: UrlSigner.fromFile(join(home, 'signing-key')), baseUrl: () => codeUrl }),
    media: ffmpegMediaTool(),
    functionPrefix: env.LAMBDA_HLS_FUNCTION_PREFIX ?? 'lhls-',
    maxInputBytes: Number(env.LAMBDA_HLS_MAX_INPUT_BYTES ?? 10 * 1024 ** 3),
    scratchDir: tmpdir(),
  };
  return cached;
}
