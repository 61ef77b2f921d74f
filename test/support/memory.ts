// In-memory ports for unit tests: no disk, no processes, no network.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { mkdir, writeFile } from 'node:fs/promises';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { contentTag } from '../../src/adapters/local/object-store';
import { collectBytes } from '../../src/adapters/streams';
import { InvalidRequest, NotMedia, SegmentationFailed, TruncatedInput } from '../../src/core/errors';
import type { ProbeResult } from '../../src/core/model';
import type {
  TextTrackRequest,
  Bucket,
  CodeStore,
  MediaTool,
  ObjectInfo,
  ObjectStore,
  PackageInfo,
  PackageLocation,
  PackageSource,
  Ports,
  SegmentStream,
  SegmentRequest,
  ChunkRequest,
  AudioSplitRequest,
  PosterFrame,
  PosterRequest,
  StoryboardRequest,
  TaggedObject,
  WriteCondition,
} from '../../src/ports';
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
  async getTagged(bucket: Bucket, key: string): Promise<TaggedObject | undefined> {
    const body = this.data.get(this.id(bucket, key));
    return body && { body, etag: contentTag(body) };
  }
  async putIf(bucket: Bucket, key: string, body: Buffer | string, condition: WriteCondition): Promise<boolean> {
    const current = this.data.get(this.id(bucket, key));
    const holds = 'etag' in condition ? current !== undefined && contentTag(current) === condition.etag : current === undefined;
    if (holds) this.data.set(this.id(bucket, key), Buffer.from(body));
    return holds;
  }
  async putFile(bucket: Bucket, key: string, path: string): Promise<void> {
    this.data.set(this.id(bucket, key), await readFile(path));
  }
  async moveFile(bucket: Bucket, key: string, path: string): Promise<void> {
    await this.putFile(bucket, key, path);
    await rm(path, { force: true });
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
  async streamRange(url: string, start: number, end: number): Promise<Readable | 'refused'> {
    const name = /^memory:\/\/code\/([^?]+)/.exec(url)?.[1] ?? '';
    const zip = this.functions.get(name);
    return zip ? Readable.from([zip.subarray(start, end + 1)]) : 'refused';
  }
  async delete(name: string): Promise<boolean> {
    return this.functions.delete(name);
  }
  async list(prefix: string): Promise<PackageInfo[]> {
    return [...this.functions.entries()].filter(([n]) => n.startsWith(prefix)).map(([n, zip]) => this.info(n, zip));
  }
  /** Names ready() was asked about, in order. */
  readied: string[] = [];
  async ready(names: readonly string[]) {
    this.readied.push(...names);
  }
  /** The account's unreserved concurrency, as GetAccountSettings gives it (undefined: no account, as locally). */
  unreservedConcurrency: number | undefined;
  async quota() {
    return {
      limitBytes: 300e9,
      usedBytes: [...this.functions.values()].reduce((s, z) => s + z.length, 0),
      ...(this.unreservedConcurrency !== undefined && { unreservedConcurrency: this.unreservedConcurrency }),
    };
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

/**
 * A media tool that answers probes from a script and "segments" by writing segment files of the
 * given sizes (filled with MPEG-TS sync bytes) into the request's scratch folder, one at a time.
 */
export class ScriptedMediaTool implements MediaTool {
  readonly segmented: SegmentRequest[] = [];

  constructor(
    private readonly script: {
      probe?: ProbeResult | ((input: string) => ProbeResult);
      segments?: { bytes: number; duration: number }[];
      /** Fails after handing over this many segments, as ffmpeg does when its input disappears. */
      failAfter?: number;
      /** Ends as ffmpeg does when the file stops inside media its index lists. */
      truncated?: boolean;
      /** Each text stream's WebVTT by stream index, or the error reading it throws. */
      textTracks?: Record<number, string | Error>;
    } = {},
  ) {}

  async probe(input: string): Promise<ProbeResult> {
    const { probe } = this.script;
    if (!probe) throw new NotMedia('ffprobe cannot read it as audio or video (Invalid data found when processing input)');
    return typeof probe === 'function' ? probe(input) : probe;
  }

  async segment(request: SegmentRequest): Promise<SegmentStream> {
    this.segmented.push(request);
    return this.writeSegments(request.outDir, 0, this.script.segments?.length ?? 0, this.script.truncated);
  }

  readonly chunked: ChunkRequest[] = [];
  readonly audioSplits: AudioSplitRequest[] = [];
  readonly posters: PosterRequest[] = [];

  /** The scripted segments firstSegment … firstSegment + segmentCount − 1, as one chunk would make them. */
  async encodeChunk(request: ChunkRequest): Promise<SegmentStream> {
    this.chunked.push(request);
    return this.writeSegments(request.outDir, request.firstSegment, request.segmentCount, false);
  }

  /** Writes scripted segments first … first + count − 1 into `outDir`, one at a time, failing where the script says. */
  private async writeSegments(outDir: string, first: number, count: number, truncated = false): Promise<SegmentStream> {
    const { segments = [], failAfter } = this.script;
    await mkdir(outDir, { recursive: true });
    let start = segments.slice(0, first).reduce((sum, s) => sum + s.duration, 0);
    return (async function* () {
      for (const [position, segment] of segments.slice(first, first + count).entries()) {
        const index = first + position;
        if (failAfter !== undefined && index >= failAfter)
          throw new SegmentationFailed('ffmpeg could not segment the file: Connection reset');
        const path = join(outDir, `${String(index).padStart(5, '0')}.ts`);
        await writeFile(path, Buffer.alloc(segment.bytes, 0x47));
        yield { index, path, bytes: segment.bytes, start, duration: segment.duration };
        start += segment.duration;
      }
      if (truncated) throw new TruncatedInput('ffmpeg found the media cut short (partial file)');
    })();
  }

  /** One small audio part per chunk. */
  async splitAudio(request: AudioSplitRequest): Promise<SegmentStream> {
    this.audioSplits.push(request);
    await mkdir(request.outDir, { recursive: true });
    return (async function* () {
      const starts = [0, ...request.cuts];
      for (const [index, start] of starts.entries()) {
        const path = join(request.outDir, `${String(index).padStart(5, '0')}.ts`);
        await writeFile(path, Buffer.alloc(188, 0x47));
        const end = starts[index + 1] ?? start + 1;
        yield { index, path, bytes: 188, start, duration: end - start };
      }
    })();
  }

  /** A poster of a few bytes at the time asked for: a JPEG's markers, not a picture. */
  async poster(request: PosterRequest): Promise<PosterFrame> {
    this.posters.push(request);
    await writeFile(request.output, Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    return { seconds: request.at, meanLuma: 100 };
  }

  /** A sprite of a few bytes with a tile at each turn of the interval. */
  async storyboard(request: StoryboardRequest): Promise<number[]> {
    await writeFile(request.output, Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    return Array.from({ length: request.columns * request.rows }, (_, i) => i * request.intervalSeconds);
  }

  /** A text stream's WebVTT as the script gives it (one cue at 1 s otherwise). */
  async textTrack(request: TextTrackRequest): Promise<string> {
    const text = this.script.textTracks?.[request.stream];
    if (text instanceof Error) throw text;
    return text ?? 'WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nstream text\n';
  }

  async testClip(): Promise<void> {
    throw new InvalidRequest('the scripted media tool makes no clips');
  }
}

/** Every port in memory, the clock included; override any of them. */
export function memoryPorts(overrides: Partial<Ports> = {}): Ports & { objects: MemoryObjectStore; code: MemoryCodeStore } {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const clock = overrides.clock ?? (() => now);
  return {
    objects: new MemoryObjectStore(),
    code: new MemoryCodeStore(clock),
    media: new ScriptedMediaTool(),
    executions: { start: async () => 'started', status: async () => undefined },
    clock,
    ...overrides,
  } as Ports & { objects: MemoryObjectStore; code: MemoryCodeStore };
}
