// In-memory ports for unit tests: no disk, no processes, no network.
import { createHash } from 'node:crypto';
import { collectBytes } from '../../src/adapters/streams';
import type { Bucket, CodeStore, ObjectInfo, ObjectStore, PackageInfo, PackageLocation, PackageSource } from '../../src/ports';
import { InputNotFound } from '../../src/core/errors';

export class MemoryObjectStore implements ObjectStore {
  readonly data = new Map<string, Buffer>();
  private id(bucket: Bucket, key: string) {
    return `${bucket}/${key}`;
  }
  async head(bucket: Bucket, key: string): Promise<ObjectInfo | undefined> {
    const body = this.data.get(this.id(bucket, key));
    return body ? { key, bytes: body.length } : undefined;
  }
  async get(bucket: Bucket, key: string): Promise<Buffer> {
    const body = this.data.get(this.id(bucket, key));
    if (!body) throw new InputNotFound(`no ${key}`);
    return body;
  }
  async read(bucket: Bucket, key: string): Promise<AsyncIterable<Uint8Array>> {
    const body = await this.get(bucket, key);
    return (async function* () {
      yield body;
    })();
  }
  async put(bucket: Bucket, key: string, body: Buffer | string): Promise<void> {
    this.data.set(this.id(bucket, key), Buffer.from(body));
  }
  async putFile(): Promise<void> {
    throw new Error('not used in unit tests');
  }
  async list(bucket: Bucket, prefix: string): Promise<ObjectInfo[]> {
    return [...this.data.entries()]
      .filter(([id]) => id.startsWith(`${bucket}/${prefix}`))
      .map(([id, body]) => ({ key: id.slice(bucket.length + 1), bytes: body.length }))
      .sort((a, b) => a.key.localeCompare(b.key));
  }
  async delete(bucket: Bucket, key: string): Promise<void> {
    this.data.delete(this.id(bucket, key));
  }
  async readableLocation(bucket: Bucket, key: string): Promise<string> {
    return `memory://${bucket}/${key}`;
  }
}

export class MemoryCodeStore implements CodeStore {
  readonly functions = new Map<string, Buffer>();
  describeCalls = 0;
  constructor(
    private readonly now: () => number = Date.now,
    private readonly lifetimeMs = 600_000,
  ) {}
  private info(name: string, zip: Buffer): PackageInfo {
    return { name, codeSha256: createHash('sha256').update(zip).digest('base64'), codeSize: zip.length };
  }
  async createPackage(name: string, source: PackageSource) {
    const zip = await collectBytes(source.chunks());
    const existing = this.functions.get(name);
    if (existing?.equals(zip)) return { ...this.info(name, zip), created: false };
    this.functions.set(name, zip);
    return { ...this.info(name, zip), created: true };
  }
  async describe(name: string): Promise<PackageLocation | undefined> {
    this.describeCalls++;
    const zip = this.functions.get(name);
    if (!zip) return undefined;
    const expires = this.now() + this.lifetimeMs;
    return { ...this.info(name, zip), url: `memory://code/${name}?expires=${expires}`, urlExpiresAt: expires };
  }
  async readRange(url: string, start: number, end: number): Promise<Buffer> {
    const name = /^memory:\/\/code\/([^?]+)/.exec(url)?.[1] ?? '';
    return (this.functions.get(name) ?? Buffer.alloc(0)).subarray(start, end + 1);
  }
  async delete(name: string): Promise<boolean> {
    return this.functions.delete(name);
  }
  async list(prefix: string): Promise<PackageInfo[]> {
    return [...this.functions.entries()].filter(([n]) => n.startsWith(prefix)).map(([n, zip]) => this.info(n, zip));
  }
  async quota() {
    return { limitBytes: 75e9, usedBytes: [...this.functions.values()].reduce((s, z) => s + z.length, 0) };
  }
}

/** A zip already in memory as a PackageSource. */
export function bufferSource(zip: Uint8Array): PackageSource {
  return {
    size: zip.length,
    async *chunks() {
      yield zip;
    },
  };
}
