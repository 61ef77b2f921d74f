// CodeStore on folders: each "function" is $LAMBDA_HLS_HOME/functions/<name>/ with the zip kept
// byte for byte, as Lambda keeps an uploaded package, and URLs signed like GetFunction's.
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { asNoSpace, InvalidRequest } from '../../core/errors';
import type { AccountLimits, CodeStore, PackageInfo, PackageLocation, PackageSource, StoredPackage } from '../../ports';
import type { Readable } from 'node:stream';
import { readRange, streamRange } from '../http-range';
import { processTag, tagStillRunning } from '../../process-identity';
import { openWithin } from './paths';
import type { UrlSigner } from './signer';

export interface LocalCodeStoreOptions {
  root: string;
  signer: UrlSigner;
  /** Where the local server listens, e.g. http://127.0.0.1:8080 — asked each time, as it may start later. */
  baseUrl: () => string;
  urlLifetimeSeconds: number;
  /** Code storage the "account" may hold; Lambda-managed storage is 300 GB per region. */
  quotaBytes: number;
  now?: () => number;
}

const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

interface Meta extends PackageInfo {
  createdAt: string;
}

export class LocalCodeStore implements CodeStore {
  private readonly lifetime: number;
  private readonly now: () => number;

  constructor(private readonly options: LocalCodeStoreOptions) {
    this.lifetime = options.urlLifetimeSeconds;
    this.now = options.now ?? Date.now;
  }

  private dir(name: string): string {
    if (!FUNCTION_NAME.test(name)) throw new InvalidRequest(`${JSON.stringify(name)} is not a valid function name`);
    return join(this.options.root, name);
  }

  zipPath(name: string): string {
    return join(this.dir(name), 'code.zip');
  }

  /** The package's bytes, open for reading; a link in its place, out of the functions folder, is refused. */
  openPackage(name: string): Promise<FileHandle> {
    return openWithin(this.options.root, this.zipPath(name));
  }

  private async meta(name: string): Promise<Meta | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(name), 'function.json'), 'utf8')) as Meta;
    } catch {
      return undefined;
    }
  }

  async createPackage(name: string, zip: PackageSource): Promise<StoredPackage> {
    const dir = this.dir(name);
    await mkdir(dir, { recursive: true }).catch((error: unknown) => {
      throw asNoSpace(error, 'the lambda-hls home (its functions)');
    });
    // Staged files are named by this process, so gc can tell a killed create's from a running one's.
    // node:crypto is loaded by the first package, not by commands that only list (`list`, `gc`).
    const { createHash, randomBytes } = require('node:crypto') as typeof import('node:crypto');
    const tag = `${processTag()}-${randomBytes(4).toString('hex')}`;
    const staged = join(dir, `code.zip.${tag}`);
    // The zip streams to a staged file, hashed on the way, as Lambda reads an upload: each chunk is
    // written before the next is asked for (nothing read ahead, nothing buffered twice).
    const hash = createHash('sha256');
    let size = 0;
    try {
      const file = await open(staged, 'w');
      try {
        for await (const chunk of zip.chunks()) {
          hash.update(chunk);
          size += chunk.length;
          // A write may take less than it was given (a full disk says so on the next one).
          for (let done = 0; done < chunk.length; ) done += (await file.write(chunk, done)).bytesWritten;
        }
      } finally {
        await file.close();
      }
    } catch (error) {
      await rm(staged, { force: true });
      if (!(await this.meta(name))) await rm(dir, { recursive: true, force: true });
      throw asNoSpace(error, 'the lambda-hls home (its functions)');
    }
    if (size !== zip.size) {
      await rm(staged, { force: true });
      throw new InvalidRequest(`package for ${name} streamed ${size} bytes, announced ${zip.size}`);
    }
    const codeSha256 = hash.digest('base64');
    const existing = await this.meta(name);
    if (existing && existing.codeSha256 === codeSha256) {
      await rm(staged, { force: true });
      return { ...existing, created: false };
    }
    const info: Meta = { name, codeSha256, codeSize: size, createdAt: new Date(this.now()).toISOString() };
    // Code first, then the description: a function without function.json does not exist yet.
    try {
      await rename(staged, join(dir, 'code.zip'));
      await writeFile(join(dir, `function.json.${tag}`), JSON.stringify(info));
      await rename(join(dir, `function.json.${tag}`), join(dir, 'function.json'));
    } catch (error) {
      await rm(join(dir, `function.json.${tag}`), { force: true });
      if (!existing) await rm(dir, { recursive: true, force: true }); // never half a function
      throw asNoSpace(error, 'the lambda-hls home (its functions)');
    }
    return { ...info, created: true };
  }

  async describe(name: string): Promise<PackageLocation | undefined> {
    const meta = await this.meta(name);
    if (!meta) return undefined;
    const expires = Math.floor(this.now() / 1000) + this.lifetime;
    return {
      name,
      codeSha256: meta.codeSha256,
      codeSize: meta.codeSize,
      url: `${this.options.baseUrl()}/code/${name}.zip?${this.options.signer.sign(name, expires)}`,
      urlExpiresAt: expires * 1000,
    };
  }

  readRange(url: string, start: number, end: number): Promise<Buffer> {
    return readRange(url, start, end);
  }

  streamRange(url: string, start: number, end: number): Promise<Readable | 'refused'> {
    return streamRange(url, start, end);
  }

  /** Removes the function, a half-made one (a create cut off before its description) too. */
  async delete(name: string): Promise<boolean> {
    const existed = await stat(this.dir(name)).then(
      () => true,
      () => false,
    );
    await rm(this.dir(name), { recursive: true, force: true });
    return existed;
  }

  async list(prefix: string): Promise<PackageInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.options.root);
    } catch {
      return [];
    }
    const found: PackageInfo[] = [];
    for (const name of names.filter((n) => n.startsWith(prefix)).sort()) {
      const meta = await this.meta(name);
      if (meta) {
        found.push({ name: meta.name, codeSha256: meta.codeSha256, codeSize: meta.codeSize });
      } else {
        // A create cut off half-way (a killed process) is listed, as Lambda lists a Pending
        // function, so delete and gc can find it; it has no code hash and cannot be described.
        const files = await readdir(this.dir(name)).catch(() => [] as string[]);
        const sizes = await Promise.all(
          files.map((f) =>
            stat(join(this.dir(name), f)).then(
              (st) => st.size,
              () => 0,
            ),
          ),
        );
        found.push({ name, codeSha256: '', codeSize: sizes.reduce((a, b) => a + b, 0) });
      }
    }
    return found;
  }

  /**
   * Staged files (`code.zip.<tag>`, `function.json.<tag>`) whose writer is gone: a create killed
   * between streaming and renaming. Paths relative to the functions folder.
   */
  async abandonedStaging(): Promise<string[]> {
    const found: string[] = [];
    const names = await readdir(this.options.root).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const files = await readdir(join(this.options.root, name)).catch(() => [] as string[]);
      for (const file of files) {
        const tag = /^(?:code\.zip|function\.json)\.(.+)$/.exec(file)?.[1];
        if (tag !== undefined && !tagStillRunning(tag.split('-')[0] ?? '')) found.push(`${name}/${file}`);
      }
    }
    return found;
  }

  async removeStaged(path: string): Promise<void> {
    const [name = '', file = ''] = path.split('/');
    if (!/^(?:code\.zip|function\.json)\..+$/.test(file)) throw new InvalidRequest(`${path} is not a staged package file`);
    await rm(join(this.dir(name), file), { force: true });
  }

  /** A local package is readable as soon as it is written. */
  async ready(): Promise<void> {}

  async quota(): Promise<AccountLimits> {
    const all = await this.list('');
    return {
      limitBytes: this.options.quotaBytes,
      usedBytes: all.reduce((sum, p) => sum + p.codeSize, 0),
    };
  }
}
