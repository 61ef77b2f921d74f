import { resolve } from 'node:path';
import { InvalidRequest } from '../../core/errors';

/** Where local data lives: $LAMBDA_HLS_HOME, default ./.lambda-hls. */
export function homeDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.LAMBDA_HLS_HOME || '.lambda-hls');
}

/** A key as a relative path that cannot climb out of its folder. */
export function safeRelative(key: string): string {
  const parts = key.split('/');
  if (key.length === 0 || key.startsWith('/') || key.includes('\\') || key.includes('\0') ||
      parts.some((p) => p === '..' || p === '.' || p === '')) {
    throw new InvalidRequest(`object key ${JSON.stringify(key)} is not a plain relative key`);
  }
  return key;
}
