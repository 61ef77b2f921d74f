// The outside world as the steps see it: interfaces only. Each backend (src/composition/backends)
// provides all of them, built on first use; a step never knows which backend it got.
import type { Readable } from 'node:stream';
import type { ExecutionStatus } from './core/history';
import type { EncodingPlan, HdrTransfer, ProbeResult } from './core/model';
import type { MediaFormat } from './core/naming';

/** Logical buckets; each adapter maps them to real buckets or folders. */
export type Bucket = 'input' | 'work' | 'output';

export interface ObjectInfo {
  key: string;
  bytes: number;
  /** Which upload of the key this is (S3: version id or ETag), when the store knows. */
  version?: string;
  /** When it was written (epoch ms; S3's LastModified, whole seconds), when the store says. */
  modifiedAt?: number;
}

/** An object's bytes with its entity tag: what a conditional write compares (S3's ETag). */
export interface TaggedObject {
  body: Buffer;
  etag: string;
}

/** What a conditional write requires: the object still as read (its ETag), or still absent. */
export type WriteCondition = { etag: string } | { absent: true };

export interface ObjectStore {
  /** Size of an object, or undefined when there is none. */
  head(bucket: Bucket, key: string): Promise<ObjectInfo | undefined>;
  /** Whole object; throws InputNotFound when there is none. */
  get(bucket: Bucket, key: string): Promise<Buffer>;
  /** The object's bytes as they arrive, never all in memory; throws InputNotFound when there is none. */
  read(bucket: Bucket, key: string): Promise<AsyncIterable<Uint8Array>>;
  put(bucket: Bucket, key: string, body: Buffer | string, contentType?: string): Promise<void>;
  /** The whole object and its ETag, or undefined when there is none. */
  getTagged(bucket: Bucket, key: string): Promise<TaggedObject | undefined>;
  /**
   * Writes only if the object is as `condition` says (S3's If-Match / If-None-Match): false, and
   * nothing written, when another writer changed it since it was read. A compare-and-swap.
   */
  putIf(bucket: Bucket, key: string, body: Buffer | string, condition: WriteCondition, contentType?: string): Promise<boolean>;
  /** Uploads a file from scratch space without holding it in memory. */
  putFile(bucket: Bucket, key: string, path: string, contentType?: string): Promise<void>;
  /**
   * Stores a scratch file as the object and takes it away from scratch space: a rename where the
   * store is on the same disk (nothing copied), an upload and a delete elsewhere.
   */
  moveFile(bucket: Bucket, key: string, path: string, contentType?: string): Promise<void>;
  /** Keys under a prefix, in lexical order. */
  list(bucket: Bucket, prefix: string): Promise<ObjectInfo[]>;
  /** Deletes an object; deleting what is not there is not an error. */
  delete(bucket: Bucket, key: string): Promise<void>;
  /** Something ffmpeg can open: a local path or a presigned URL. */
  readableLocation(bucket: Bucket, key: string): Promise<string>;
}

export interface PackageInfo {
  name: string;
  /** base64(SHA-256 of the zip), as Lambda reports it. */
  codeSha256: string;
  codeSize: number;
}

export interface PackageLocation extends PackageInfo {
  /** A signed URL that serves the zip with Range support. */
  url: string;
  /** Epoch milliseconds after which the URL stops working. */
  urlExpiresAt: number;
}

/** A zip to store: its size known up front, its bytes streamed (again on every call of `chunks`). */
export interface PackageSource {
  size: number;
  chunks(): AsyncIterable<Uint8Array>;
}

/** A package as createPackage left it. */
export interface StoredPackage extends PackageInfo {
  /** False when a function with the same code already existed. */
  created: boolean;
  /** Calls the store retried itself on the way (throttling), so a run's history can show them. */
  retries?: number;
}

export interface CodeStore {
  /**
   * Stores a zip as a function's code package. Idempotent: an existing function with the same
   * code is left alone (`created: false`); one with other code is given this code.
   */
  createPackage(name: string, zip: PackageSource): Promise<StoredPackage>;
  /**
   * Resolves once these packages can be read back (Lambda: each function Active, after its
   * Pending), so a batch creates its functions one after another and waits for them once.
   */
  ready(names: readonly string[]): Promise<void>;
  /** The package and a fresh signed URL, or undefined when there is no such function. */
  describe(name: string): Promise<PackageLocation | undefined>;
  /** Bytes `start`..`end` (inclusive) of a package through its signed URL. */
  readRange(url: string, start: number, end: number): Promise<Buffer>;
  /**
   * The same bytes as a stream, passed on as they arrive (the delivery route): 'refused' when the
   * URL is refused (expired, tampered with, or its function gone); throws when the store fails.
   */
  streamRange(url: string, start: number, end: number): Promise<Readable | 'refused'>;
  /** Deletes a function; true when it existed. */
  delete(name: string): Promise<boolean>;
  /** Functions whose names start with the prefix. */
  list(prefix: string): Promise<PackageInfo[]>;
  /** The account's limits: code storage it may hold and holds now, and its concurrency. */
  quota(): Promise<AccountLimits>;
}

export interface AccountLimits {
  /** Code storage the account may hold and holds now, in bytes. */
  limitBytes: number;
  usedBytes: number;
  /** Concurrent executions left to functions without a reservation; undefined where there is no such account (locally). */
  unreservedConcurrency?: number;
}

export interface SegmentFile {
  index: number;
  /** The output it belongs to, when a run makes several (a ladder's rung, a sound's rate). */
  rendition?: string;
  path: string;
  bytes: number;
  start: number;
  duration: number;
}

/** How ffmpeg's run went: its wall time, and how much of it it was paused waiting for the caller. */
export interface SegmentTiming {
  seconds: number;
  pausedSeconds: number;
}

/** The segments as ffmpeg finishes them; `timing` once they have all been taken (where the tool knows). */
export interface SegmentStream extends AsyncIterable<SegmentFile> {
  timing?(): SegmentTiming;
}

export interface SegmentRequest {
  input: string;
  /** The container it is read as (from its extension). */
  format: MediaFormat;
  plan: EncodingPlan;
  segmentSeconds: number;
  outDir: string;
  /** The duration the input's header declares (what progress is measured against). */
  durationSeconds: number;
  /** Told how far into the input (seconds) ffmpeg has got, as it goes. */
  onProgress?: (seconds: number) => void;
  /** When aborted, ffmpeg is stopped (resumed first if paused) and the segments end with Interrupted. */
  signal?: AbortSignal;
  /**
   * A ladder's copied top rung: its timestamps put on the timeline of the encoded rungs (as their
   * chunks put theirs), and its segments' times told on it from 0; absent, the copy's own.
   */
  timeline?: Timeline;
}

/** Where a transcode's chunks and its audio put their timestamps (see timelineOffset). */
export interface Timeline {
  /** Output time = source time − sourceStart + timeOffset. */
  timeOffset: number;
  sourceStart: number;
}

/** One chunk of a transcode: segments firstSegment … firstSegment + segmentCount − 1. */
export interface ChunkRequest extends Timeline {
  input: string;
  format: MediaFormat;
  plan: EncodingPlan;
  segmentSeconds: number;
  firstSegment: number;
  segmentCount: number;
  /** The chunk's frames are those of [start, end) on the output's timeline (0 = the source's start); no end: to the last. */
  start: number;
  end?: number | undefined;
  /** Where its segments start, when they are not every segmentSeconds (a ladder cut where its copied top rung is). */
  cuts?: number[] | undefined;
  /** The chunk's audio, encoded once by splitAudio; none for a chunk past the audio's end. */
  audio?: string | undefined;
  /** A ladder's cellular rung's own sound (splitAudio's `low` output), where the ladder has that rung. */
  lowAudio?: string | undefined;
  outDir: string;
  signal?: AbortSignal;
}

/** A transcode's audio track, encoded once and cut at the chunks' starts. */
export interface AudioSplitRequest extends Timeline {
  input: string;
  format: MediaFormat;
  plan: EncodingPlan;
  /** Where chunks 1, 2, … start, in seconds on the output's timeline. */
  cuts: number[];
  /** The duration the input's header declares (what progress is measured against). */
  durationSeconds: number;
  outDir: string;
  onProgress?: (seconds: number) => void;
  signal?: AbortSignal;
}

/** A poster candidate: the most representative frame of a few seconds from `at`. */
export interface PosterRequest {
  input: string;
  format: MediaFormat;
  /** Seconds from the stream's start where the frames looked at begin. */
  at: number;
  /** The container's first timestamp (ProbeResult.startSeconds): the frame's time is told from the stream's start. */
  startSeconds: number;
  /** Frames looked at (a few seconds' worth). */
  frames: number;
  width: number;
  height: number;
  /** An HDR source's transfer: the picture is tone-mapped to SDR as the rungs are. */
  toneMap?: HdrTransfer | undefined;
  /** The JPEG to write. */
  output: string;
  signal?: AbortSignal;
}

/** The frame a poster run chose: its time from the stream's start, and its mean luma (0–255). */
export interface PosterFrame {
  seconds: number;
  meanLuma: number;
}

/** A storyboard sprite: one tile per keyframe at or after each turn of `intervalSeconds`, in rows of `columns`. */
export interface StoryboardRequest {
  input: string;
  format: MediaFormat;
  intervalSeconds: number;
  tileWidth: number;
  tileHeight: number;
  columns: number;
  rows: number;
  toneMap?: HdrTransfer | undefined;
  output: string;
  signal?: AbortSignal;
}

/** A text stream of the source, to be read as WebVTT. */
export interface TextTrackRequest {
  input: string;
  format: MediaFormat;
  /** Its index among the input's streams (TextTrack.stream). */
  stream: number;
  signal?: AbortSignal;
}

export interface MediaTool {
  /**
   * Streams and duration, read as `format` (the demuxer is never guessed from the content). Throws
   * NotMedia when the file is not that format's audio or video, TruncatedInput when it is an MP4
   * cut before its index.
   */
  probe(input: string, format: MediaFormat, signal?: AbortSignal): Promise<ProbeResult>;
  /**
   * Cuts the input into MPEG-TS segments in `outDir`, handing each over as soon as ffmpeg has
   * finished it (durations as ffmpeg reports them). ffmpeg goes on meanwhile, but waits while too
   * many finished segments are not yet taken, so scratch space stays bounded (not by the input). The
   * caller removes each file once it is done with it. Throws TruncatedInput when the file ends
   * inside media its index lists, SegmentationFailed when ffmpeg fails or stops making progress.
   */
  segment(request: SegmentRequest): Promise<SegmentStream>;
  /**
   * Encodes one chunk of a transcode into its segments (indices from firstSegment; starts and
   * durations on the output's timeline from 0), handed over as `segment` does.
   */
  encodeChunk(request: ChunkRequest): Promise<SegmentStream>;
  /** Encodes the audio once into one MPEG-TS part per chunk (index = chunk), handed over as `segment` does. */
  splitAudio(request: AudioSplitRequest): Promise<SegmentStream>;
  /** Writes a poster candidate (JPEG) and says which frame it is. */
  poster(request: PosterRequest): Promise<PosterFrame>;
  /** Writes a storyboard sprite (JPEG); returns each tile's frame time (seconds from the stream's start), in order. */
  storyboard(request: StoryboardRequest): Promise<number[]>;
  /** A text stream as WebVTT, its times from the input's start; CaptionInvalid when ffmpeg cannot read it. */
  textTrack(request: TextTrackRequest): Promise<string>;
  /** Writes a 720p H.264/AAC test pattern with a tone, `seconds` long (the demo's clip). */
  testClip(path: string, seconds: number): Promise<void>;
}

export interface ExecutionStarter {
  /** 'exists' when an execution of that name was already started (a redelivered event). */
  start(name: string, input: unknown): Promise<'started' | 'exists'>;
  /** Where an execution of that name stands, or undefined when there is none. */
  status(name: string): Promise<ExecutionStatus | 'PENDING_REDRIVE' | undefined>;
}

/** The time, in epoch milliseconds (tests pass their own). */
export type Clock = () => number;

/** Every port a step may be given; a step's table entry names the ones it uses. */
export interface Ports {
  objects: ObjectStore;
  code: CodeStore;
  media: MediaTool;
  executions: ExecutionStarter;
  clock: Clock;
}

export type PortName = keyof Ports;
