import { resolve } from 'node:path';
import { InvalidRequest } from '../../core/errors';

/** Where local data lives: $LAMBDA_HLS_HOME, default ./.lambda-hls. */
export function homeDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.LAMBDA_HLS_HOME || '.lambda-hls');
}

/**
 * An object key as a relative path inside its bucket folder. S3 keys may hold anything, so each
 * `/`-separated part is escaped to a file name that cannot climb out of the folder: `%` and `\`
 * are percent-encoded, and a part that is only dots (`.`, `..`) has its dots encoded. Keys with an
 * empty part (a leading `/`, `//`) or a NUL are refused. `keyOfPath` reverses it.
 */
export function pathOfKey(key: string): string[] {
  const parts = key.split('/');
  if (key.length === 0 || key.includes('\0') || parts.some((p) => p === '')) {
    throw new InvalidRequest(`object key ${JSON.stringify(key)} has an empty part or a NUL; the local store cannot hold it`);
  }
  return parts.map((part) => {
    const escaped = part.replace(/%/g, '%25').replace(/\\/g, '%5C');
    return /^\.+$/.test(escaped) ? escaped.replace(/\./g, '%2E') : escaped;
  });
}

/** The key a relative path (its parts) stands for. */
export function keyOfPath(parts: readonly string[]): string {
  return parts.map((part) => part.replace(/%(25|5C|2E)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))).join('/');
}

/** A temporary file's name never decodes to a key: `%` is always followed by two hex digits in one. */
export const TEMP_PREFIX = '%tmp-';
