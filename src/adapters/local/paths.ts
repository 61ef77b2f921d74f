import { chmodSync, constants, mkdirSync, statSync } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { InvalidRequest } from '../../core/errors';

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

/**
 * Makes `path` (and the home above it, when missing) a folder only its owner can enter (700):
 * the buckets hold the uploads, the functions their packages, and the signing key beside them is
 * 600. A folder an earlier version made 755 is tightened; the home itself, when it already exists
 * (a folder the user chose), keeps its mode, since nothing in it is reachable through the folders
 * made here.
 */
export function privateFolder(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const { mode, uid } = statSync(path);
  if ((mode & 0o077) !== 0 && uid === process.getuid?.()) chmodSync(path, mode & 0o700);
  return path;
}

/**
 * Opens a file the store wrote, for reading, only if it is inside `root`: a symbolic link in its
 * place (O_NOFOLLOW) or in a folder above it, out of `root`, is refused with InvalidRequest — a link
 * planted in the home must not make `serve` hand out a file from elsewhere. (The input bucket is
 * the exception its store makes: there a link to the user's own file is the object.)
 */
export async function openWithin(root: string, path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw outside(path);
    throw error;
  }
  try {
    const [folder, top] = await Promise.all([realpath(dirname(path)), realRoot(root)]);
    if (folder !== top && !folder.startsWith(top + sep)) throw outside(path);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** A root's real path, resolved once per process: every served package and playlist is checked against it. */
const realRoots = new Map<string, Promise<string>>();
function realRoot(root: string): Promise<string> {
  let real = realRoots.get(root);
  if (!real) {
    real = realpath(root);
    realRoots.set(root, real);
    real.catch(() => realRoots.delete(root)); // not there yet: asked again next time
  }
  return real;
}

function outside(path: string): InvalidRequest {
  return new InvalidRequest(`${path} is a link out of the lambda-hls home, which lambda-hls never makes there: it is not read`);
}
