// ObjectStore on folders: $LAMBDA_HLS_HOME/buckets/<bucket>/<key>.
import {
  constants,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { asNoSpace, InputNotFound, InvalidRequest } from '../../core/errors';
import type { Bucket, ObjectInfo, ObjectStore, TaggedObject, WriteCondition } from '../../ports';
import { processTag, tagStillRunning } from '../../process-identity';
import { tryLinkLock } from './file-lock';
import { keyOfPath, openWithin, pathOfKey, TEMP_PREFIX } from './paths';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** An ETag as S3 makes one for a single-part upload: the MD5 of the bytes, quoted. */
/** How often a conditional write looks again at a lock another writer holds. */
const LOCK_POLL_MS = 10;

export function contentTag(body: Buffer): string {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

export class LocalObjectStore implements ObjectStore {
  constructor(private readonly root: string) {}

  pathOf(bucket: Bucket, key: string): string {
    return join(this.root, bucket, ...pathOfKey(key));
  }

  /**
   * The object's file, open for reading. An input may be a link to the user's own file (`linkFile`);
   * every other bucket holds only what the store wrote, so a link there is refused (`openWithin`).
   */
  private async openObject(bucket: Bucket, key: string): Promise<Awaited<ReturnType<typeof open>>> {
    try {
      return bucket === 'input' ? await open(this.pathOf(bucket, key)) : await openWithin(this.root, this.pathOf(bucket, key));
    } catch (error) {
      if (isMissing(error)) throw new InputNotFound(`no object ${key} in the ${bucket} bucket`);
      throw error;
    }
  }

  async head(bucket: Bucket, key: string): Promise<ObjectInfo | undefined> {
    try {
      // Follows a linked input to the user's file; a link in another bucket is no object.
      const info = await (bucket === 'input' ? stat : lstat)(this.pathOf(bucket, key));
      return info.isFile() ? { key, bytes: info.size } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async get(bucket: Bucket, key: string): Promise<Buffer> {
    const file = await this.openObject(bucket, key);
    try {
      return await file.readFile();
    } finally {
      await file.close();
    }
  }

  async read(bucket: Bucket, key: string): Promise<AsyncIterable<Uint8Array>> {
    const file = await this.openObject(bucket, key);
    return file.createReadStream({ highWaterMark: 1024 * 1024 });
  }

  /** Writes to a temporary name first, so a reader never sees half an object. */
  private async atomically(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
    await mkdir(dirname(path), { recursive: true }).catch((error: unknown) => {
      throw asNoSpace(error, 'the lambda-hls home (its buckets)');
    });
    // Short, so a key near the file-name limit still has room for its temporary twin; it names the
    // writing process, so what a killed process left can be told from what one is still writing.
    // node:crypto is loaded by the first write, not by commands that only read (`list`).
    const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
    const tmp = join(dirname(path), `${TEMP_PREFIX}${processTag()}-${randomBytes(4).toString('hex')}`);
    try {
      await write(tmp);
      await rename(tmp, path);
    } catch (error) {
      await rm(tmp, { force: true });
      throw asNoSpace(error, 'the lambda-hls home (its buckets)');
    }
  }

  async put(bucket: Bucket, key: string, body: Buffer | string): Promise<void> {
    await this.atomically(this.pathOf(bucket, key), (tmp) => writeFile(tmp, body));
  }

  async getTagged(bucket: Bucket, key: string): Promise<TaggedObject | undefined> {
    try {
      const body = await this.get(bucket, key);
      return { body, etag: contentTag(body) };
    } catch (error) {
      if (error instanceof InputNotFound) return undefined;
      throw error;
    }
  }

  /**
   * A compare-and-swap: each key's conditional writes in turn, in this process and between
   * processes (two conversions of different videos share the quota's ledger), under a lock file
   * beside the buckets.
   */
  async putIf(bucket: Bucket, key: string, body: Buffer | string, condition: WriteCondition): Promise<boolean> {
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    const folder = join(this.root, '.locks');
    await mkdir(folder, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      throw asNoSpace(error, 'the lambda-hls home (its buckets)');
    });
    const path = join(folder, `${createHash('sha256').update(`${bucket}/${key}`).digest('hex').slice(0, 32)}.lock`);
    let taken = tryLinkLock(path, 'the lambda-hls home (its buckets)');
    while (!('release' in taken)) {
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
      taken = tryLinkLock(path, 'the lambda-hls home (its buckets)');
    }
    try {
      const current = await this.getTagged(bucket, key);
      const holds = 'etag' in condition ? current?.etag === condition.etag : current === undefined;
      if (holds) await this.put(bucket, key, body);
      return holds;
    } finally {
      taken.release();
    }
  }

  /** A kernel copy (copy_file_range, or a reflink where the file system has them), not through JS. */
  async putFile(bucket: Bucket, key: string, path: string): Promise<void> {
    await this.atomically(this.pathOf(bucket, key), (tmp) => copyFile(path, tmp, constants.COPYFILE_FICLONE));
  }

  /** A rename on the same disk: the segment's bytes are written once, by ffmpeg. */
  async moveFile(bucket: Bucket, key: string, path: string): Promise<void> {
    const target = this.pathOf(bucket, key);
    await mkdir(dirname(target), { recursive: true }).catch((error: unknown) => {
      throw asNoSpace(error, 'the lambda-hls home (its buckets)');
    });
    try {
      await rename(path, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw asNoSpace(error, 'the lambda-hls home (its buckets)');
      await this.putFile(bucket, key, path); // scratch on another disk (a tmpfs /tmp): copied
      await rm(path, { force: true });
    }
  }

  /**
   * The user's own file as the object, read in place and never written: a hard link where the
   * file system allows one (the object stays whole even if the user deletes the file meanwhile),
   * a symbolic link otherwise (another disk). Nothing is copied. `delete` removes only the link.
   */
  async linkFile(bucket: Bucket, key: string, path: string): Promise<void> {
    const target = this.pathOf(bucket, key);
    // The file itself, wherever a link (relative ones too) or a relative path points: a hard link
    // to a symbolic link would be the link, whose relative target means nothing inside the bucket.
    const file = await realpath(path);
    await this.atomically(target, async (tmp) => {
      try {
        await link(file, tmp);
      } catch (error) {
        // EXDEV: another disk; EPERM: protected hard links (a file of another user).
        if (!['EXDEV', 'EPERM', 'EACCES', 'EMLINK'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
        await symlink(file, tmp);
      }
    });
  }

  /**
   * Temporary files whose writer is gone (killed mid-write): `<bucket>/<path>` of each. Never listed
   * as objects, so only this finds them; gc removes them with `removeTemporary`.
   */
  async abandonedTemporaries(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.name.startsWith(TEMP_PREFIX) && !tagStillRunning(entry.name.slice(TEMP_PREFIX.length).split('-')[0] ?? '')) {
          found.push(relative(this.root, full).split(sep).join('/'));
        }
      }
    };
    await walk(this.root);
    return found.sort();
  }

  async removeTemporary(path: string): Promise<void> {
    const name = path.split('/').pop() ?? '';
    if (!name.startsWith(TEMP_PREFIX)) throw new InvalidRequest(`${path} is not a temporary file`);
    await rm(join(this.root, ...path.split('/')), { force: true });
  }

  async list(bucket: Bucket, prefix: string): Promise<ObjectInfo[]> {
    const base = join(this.root, bucket);
    const found: ObjectInfo[] = [];
    // Walk only the folder the prefix names, then filter by the rest of it.
    const slash = prefix.lastIndexOf('/');
    const start = slash >= 0 ? join(base, ...pathOfKey(prefix.slice(0, slash))) : base;
    const walk = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return;
        throw error;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if ((entry.isFile() || entry.isSymbolicLink()) && !entry.name.startsWith(TEMP_PREFIX)) {
          const key = keyOfPath(relative(base, full).split(sep));
          // A linked input whose file is gone is listed with no bytes (it can still be deleted).
          if (key.startsWith(prefix)) found.push({ key, bytes: (await stat(full).catch(() => ({ size: 0 }))).size });
        }
      }
    };
    await walk(start);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(bucket: Bucket, key: string): Promise<void> {
    const path = this.pathOf(bucket, key);
    await rm(path, { force: true });
    // Drop folders the delete left empty, up to the bucket itself.
    let dir = dirname(path);
    const bucketRoot = join(this.root, bucket);
    while (dir.startsWith(bucketRoot + sep)) {
      try {
        await rmdir(dir); // fails when the folder still holds something: then we are done
      } catch {
        break;
      }
      dir = dirname(dir);
    }
  }

  async readableLocation(bucket: Bucket, key: string): Promise<string> {
    const info = await this.head(bucket, key);
    if (!info) throw new InputNotFound(`no object ${key} in the ${bucket} bucket`);
    return this.pathOf(bucket, key);
  }
}
