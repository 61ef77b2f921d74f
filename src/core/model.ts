// The data that flows between the states of ConvertVideo. Every shape here is JSON.
import type { ChunkPlan } from './chunks';
import { InvalidRequest } from './errors';
import { executionNameFor, isRevision, isVideoId, revisionFor, videoIdFor, type VideoIdScheme } from './naming';

export type MediaKind = 'video' | 'audio';
export const PROFILES = ['source', '360p'] as const;
export type Profile = (typeof PROFILES)[number];

export interface ConversionOptions {
  /** Target segment length in seconds; ffmpeg cuts at the next keyframe after it when copying. */
  segmentSeconds: number;
  /** `source` keeps H.264 as it is; `360p` always transcodes to 640x360 baseline 3.0. */
  profile: Profile;
  /**
   * Re-encode H.264 that could be copied, so every segment is cut where asked (copying cuts only
   * at the source's keyframes). Present only when true, so other runs keep their revisions.
   */
  transcode?: true;
}

export const DEFAULT_OPTIONS: ConversionOptions = { segmentSeconds: 10, profile: 'source' };

/** What starts an execution: the S3 trigger, `lambda-hls convert`, or a person by hand. */
export interface ExecutionInput {
  source: { key: string };
  revision: string;
  options?: Partial<ConversionOptions>;
  /** The upload that started it, from the S3 event: its `sequencer` orders uploads of one key. */
  upload?: Upload;
}

/** An upload of a key as S3 notified it: the event's `sequencer`, which orders uploads of one key. */
export interface Upload {
  sequencer: string;
}

/**
 * Whether an upload is later than another of the same key: the greater sequencer (hexadecimal
 * strings of any length, compared after padding the shorter on the right with zeros, as AWS's
 * event-structure page says). A run without a sequencer (started by hand) is never "older": it
 * is what a person asked for now.
 */
export function isLaterUpload(upload: Upload | undefined, than: Upload | undefined): boolean {
  if (!upload || !than) return false;
  const width = Math.max(upload.sequencer.length, than.sequencer.length);
  return upload.sequencer.toUpperCase().padEnd(width, '0') > than.sequencer.toUpperCase().padEnd(width, '0');
}

export interface ProbeResult {
  formatName: string;
  /** What the container says the media plays for (after any edit list). */
  durationSeconds: number;
  /** The container's first timestamp, in seconds, where it is not 0 (ffmpeg's output starts there). */
  startSeconds?: number;
  video?: VideoStream;
  /** The first audio stream; `profile` as ffprobe names it (AAC: "LC", "HE-AAC", "Main", "LTP"…). */
  audio?: { codec: string; channels: number; sampleRate: number; profile?: string };
  /** Audio tracks in the file: only the first is converted. */
  audioTracks?: number;
}

/** The first video stream, as far as the encoding plan needs it. */
export interface VideoStream {
  codec: string;
  /** As coded, before rotation. */
  width: number;
  height: number;
  frameRate?: number;
  /** ffprobe's names: "High", "High 10", "Main 10", "High 4:4:4 Predictive"… */
  profile?: string;
  /** ffprobe's level × 10 (40 = 4.0). */
  level?: number;
  /** "yuv420p", "yuv420p10le", "yuv444p"… */
  pixelFormat?: string;
  /** Degrees clockwise a player turns the picture to show it (0, 90, 180, 270). */
  rotation?: number;
  /** Colour transfer, primaries and matrix as ffprobe names them ("arib-std-b67", "smpte2084", "bt2020"…). */
  transfer?: string;
  primaries?: string;
  matrix?: string;
  /** "tv" (limited) or "pc" (full), as ffprobe names the colour range. */
  range?: string;
  /** Frames the stream holds, played or not (an edit list may skip some). */
  frames?: number;
  /**
   * H.264 only: a keyframe in the first seconds has leading pictures (an open GOP's I-frame, not an
   * IDR), so a copied segment starting there would need the one before to decode.
   */
  openGop?: boolean;
}

/** ValidateInput's result: everything later states need to know about the source. */
export interface Job {
  videoId: string;
  revision: string;
  source: { key: string; bytes: number; extension: string; kind: MediaKind };
  media: ProbeResult;
  options: ConversionOptions;
  /** What SegmentMedia does to each stream, and why (decided by ValidateInput, shown by history). */
  plan?: EncodingPlan;
  /** The execution converting it: every function's log line names it. */
  execution?: string;
  /** The upload being converted, when the S3 trigger started the run (RegisterRoute orders by it). */
  upload?: Upload;
  /**
   * The video's route record as ValidateInput found it: its ETag, none when there was no record.
   * RegisterRoute compares: a record deleted meanwhile (`lambda-hls delete`) is not brought back.
   */
  basis?: { routeEtag?: string };
}

export interface EncodingPlan {
  video: 'copy' | 'h264' | 'h264-360p' | 'none';
  audio: 'copy' | 'aac' | 'none';
  /** An HDR source's transfer, tone-mapped to SDR BT.709 while encoding. */
  toneMap?: HdrTransfer;
  /** A transcode's colour: what the source's pixels are and what the output is made and tagged as. */
  colour?: ColourPlan;
  /** Why, in words a person reads in convert's output and history ("rotated 90°"). */
  reasons?: string[];
  /** What the conversion does not keep ("only the first of 2 audio tracks"). */
  warnings?: string[];
}

export type HdrTransfer = 'hlg' | 'pq';

/** YCbCr matrices as ffmpeg's scale filter names them, and RGB (no matrix: the pixels are R, G, B). */
export type SourceMatrix = 'bt709' | 'bt601' | 'bt2020' | 'rgb';

/**
 * How a transcode's colour is made: the source's matrix and range as declared (or, undeclared, the
 * convention for its size), converted to the output's limited-range YCbCr, which is tagged with
 * its primaries, transfer and matrix (H.264 VUI) so a player reads it as what it is.
 */
export interface ColourPlan {
  from: { matrix: SourceMatrix; range: 'tv' | 'pc' };
  to: { matrix: 'bt709' | 'bt601' | 'bt2020'; primaries: string; transfer: string };
}

/** One segment as SegmentMedia stored it in the work bucket. */
export interface SegmentRecord {
  index: number;
  key: string;
  bytes: number;
  /** CRC-32 of the bytes, computed on upload: the package's zip headers carry it. */
  crc32: number;
  /** Seconds, from ffmpeg's segment list. */
  start: number;
  duration: number;
}

export interface SegmentManifest {
  videoId: string;
  revision: string;
  encoding: EncodingPlan;
  segments: SegmentRecord[];
}

/**
 * SegmentMedia's result. The segment list stays in the manifest and each batch's packing plan in
 * its own object: only batch numbers travel through the state machine, so the state stays far
 * below 256 KiB however long the video.
 */
export interface SegmentationResult {
  manifestKey: string;
  segmentCount: number;
  packageCount: number;
  durationSeconds: number;
  encoding: EncodingPlan;
  /** What the segments do not honour (copied segments longer than asked). */
  warnings?: string[];
  /** 0, 1, 2 … — the Map's items; batch n's plan is at keys.batch(videoId, revision, n). */
  batches: number[];
  /** ffmpeg's wall time and how much of it it was paused waiting for segments to be stored (where known). */
  ffmpeg?: { seconds: number; pausedSeconds: number };
  /** A transcode's chunks (JoinChunks): how many, and each one's ffmpeg wall time in seconds. */
  chunks?: { count: number; seconds: number[] };
}

/**
 * SegmentMedia's result for a transcode: the picture is encoded by the EncodeChunks Map, one task
 * per chunk (plan at keys.chunks), and JoinChunks then gives the SegmentationResult.
 */
export interface ChunkedSegmentation {
  /** 0, 1, 2 … — the Map's items. */
  chunks: number[];
  /** The Map's MaxConcurrencyPath. */
  chunkConcurrency: number;
  /** Segments the chunks will make. */
  plannedSegments: number;
  encoding: EncodingPlan;
  /** How the transcode is split, in words. */
  chunking: string;
  /** ffmpeg's run encoding the audio once, when there is audio. */
  ffmpeg?: { seconds: number; pausedSeconds: number };
}

/** SegmentMedia planned chunks (a transcode) rather than segmenting in one run. */
export function isChunkedSegmentation(result: SegmentationResult | ChunkedSegmentation): result is ChunkedSegmentation {
  return Array.isArray(result.chunks);
}

/** What every EncodeChunk task reads: the source, the plan, the timeline and its own part. */
export interface ChunkDocument {
  videoId: string;
  revision: string;
  source: { key: string; extension: string };
  encoding: EncodingPlan;
  segmentSeconds: number;
  /** Output time = source time − sourceStart + timeOffset (see timelineOffset). */
  timeOffset: number;
  sourceStart: number;
  /** Chunks whose audio SegmentMedia encoded (keys.chunkAudio); the rest have none (a shorter audio track). */
  audioChunks: number;
  chunks: ChunkPlan[];
}

/** One EncodeChunk task's input (its Map item with the run's names). */
export interface EncodeChunkInput {
  videoId: string;
  revision: string;
  chunk: number;
}

/** One EncodeChunk task's segments (keys.chunkManifest), and its result. */
export interface ChunkResult {
  chunk: number;
  segments: number;
  /** ffmpeg's wall time. */
  seconds: number;
}

export interface ChunkManifest extends ChunkResult {
  records: SegmentRecord[];
}

/** One entry of a package: a segment, named and checked as the zip's headers will say. */
export interface PackageEntry {
  index: number;
  name: string;
  bytes: number;
  crc32: number;
}

/** What one PackageSegments iteration packs: consecutive packages of consecutive segments. */
export interface BatchDocument {
  videoId: string;
  revision: string;
  batch: number;
  packages: { package: number; bytes: number; entries: (PackageEntry & { key: string })[] }[];
}

/** One PackageSegments iteration's result; its receipts are in the work bucket at keys.receipts(…, batch). */
export interface BatchResult {
  batch: number;
  packages: number;
  zipBytes: number;
  /** Packages made by this run; the others already existed with the same code (a re-run). */
  created: number;
  /** Calls this iteration retried itself after throttling or a transient fault. */
  retries: number;
}

export interface PackageReceipt {
  package: number;
  functionName: string;
  codeSha256: string;
  zipBytes: number;
  /** False when an identical package already existed (a re-run). */
  created: boolean;
  entries: PackageEntry[];
}

export interface SegmentOffset {
  index: number;
  /** The package's number: the segment's URI in the playlist is `<package>.ts`. */
  package: number;
  functionName: string;
  offset: number;
  length: number;
  duration: number;
}

export interface OffsetsDocument {
  videoId: string;
  revision: string;
  segments: SegmentOffset[];
}

/** The route registry entry: what serve-segment answers for, one per video. */
export interface RouteRecord {
  videoId: string;
  revision: string;
  sourceKey: string;
  kind: MediaKind;
  playlistKey: string;
  durationSeconds: number;
  segmentCount: number;
  /** Function name per package number: `<revision>/<n>.ts` in the playlist addresses `packages[n]`. */
  packages: string[];
  registeredAt: string;
  /**
   * 'revision': the playlist's segment URIs name their revision (`<revision>/<n>.ts`), so they
   * never address another revision's bytes. Absent in records written before: their playlists use
   * `<n>.ts`, answered only while that record is the video's.
   */
  addressing?: 'revision';
  /** Earlier revisions still answered until their `until` (a player may hold their playlist), then deleted. */
  retired?: RetiredRevision[];
  /** The upload this revision was made from (the S3 event's sequencer): an older upload never replaces it. */
  upload?: Upload;
}

/**
 * What a deleted video's record becomes when `delete` runs against a deployed stage, where a
 * conversion may be under way: a mark that RegisterRoute reads as "deleted since this run began",
 * so no run brings back a route naming deleted functions. gc removes it a day later (the
 * longest an execution runs). Nothing serves it; `list` does not show it.
 */
export interface DeletedRoute {
  videoId: string;
  deletedAt: string;
}

/** A revision a newer one replaced: its segments stay addressable for a grace period. */
export interface RetiredRevision {
  revision: string;
  packages: string[];
  playlistKey: string;
  /** ISO 8601: its segments are answered before this, 410 Gone after, and its functions deleted. */
  until: string;
  /** The replaced record's addressing: absent for a revision whose playlist used `<n>.ts`. */
  addressing?: 'revision';
}

/** Whether a retired revision is still answered at `now` (epoch ms). */
export function isInGrace(retired: RetiredRevision, now: number): boolean {
  return Date.parse(retired.until) > now;
}

/**
 * What a route answers for one of its revisions at `now` (epoch ms): its own revision's packages
 * and playlist, a retired one's within its grace, 'gone' past it, undefined for a revision it never had.
 */
export function answeredRevision(
  route: RouteRecord,
  revision: string,
  now: number,
): Pick<RetiredRevision, 'packages' | 'playlistKey'> | 'gone' | undefined {
  if (revision === route.revision) return route;
  const retired = route.retired?.find((r) => r.revision === revision);
  if (!retired) return undefined;
  return isInGrace(retired, now) ? retired : 'gone';
}

/**
 * Whether a route has published a revision: the one it serves, or one it retired (players may hold
 * its playlist). A published revision's functions and playlist are never written again.
 */
export function hasPublished(route: Pick<RouteRecord, 'revision' | 'retired'> | undefined, revision: string): boolean {
  return route !== undefined && (route.revision === revision || (route.retired ?? []).some((r) => r.revision === revision));
}

/** The retired revisions still answered at `now` (epoch ms). */
export function retiredInGrace(route: Pick<RouteRecord, 'retired'>, now: number): RetiredRevision[] {
  return (route.retired ?? []).filter((r) => isInGrace(r, now));
}

// --- parsing untrusted JSON (execution input, step events) ---------------------------------

type Json = Record<string, unknown>;

function fail(path: string, expected: string): never {
  throw new InvalidRequest(`${path} must be ${expected}`);
}

export function objectAt(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'an object');
  return value as Json;
}

export function stringAt(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(path, 'a non-empty string');
  return value;
}

export function numberAt(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, 'a number');
  return value;
}

export function arrayAt(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array');
  return value;
}

export function videoIdAt(value: unknown, path: string): string {
  const id = stringAt(value, path);
  if (!isVideoId(id)) fail(path, 'a video id (lower-case letters, digits and hyphens)');
  return id;
}

export function revisionAt(value: unknown, path: string): string {
  const revision = stringAt(value, path);
  if (!isRevision(revision)) fail(path, 'a revision of 4 to 16 lower-case letters or digits');
  return revision;
}

const VIDEO_PLANS: readonly EncodingPlan['video'][] = ['copy', 'h264', 'h264-360p', 'none'];
const AUDIO_PLANS: readonly EncodingPlan['audio'][] = ['copy', 'aac', 'none'];

function parseColourPlan(value: unknown, path: string): ColourPlan {
  const raw = objectAt(value, path);
  const from = objectAt(raw.from, `${path}.from`);
  const to = objectAt(raw.to, `${path}.to`);
  const oneOf = <T extends string>(v: unknown, at: string, allowed: readonly T[]): T => {
    const text = stringAt(v, at);
    if (!(allowed as readonly string[]).includes(text)) fail(at, `one of ${allowed.join(', ')}`);
    return text as T;
  };
  return {
    from: {
      matrix: oneOf(from.matrix, `${path}.from.matrix`, ['bt709', 'bt601', 'bt2020', 'rgb'] as const),
      range: oneOf(from.range, `${path}.from.range`, ['tv', 'pc'] as const),
    },
    to: {
      matrix: oneOf(to.matrix, `${path}.to.matrix`, ['bt709', 'bt601', 'bt2020'] as const),
      primaries: stringAt(to.primaries, `${path}.to.primaries`),
      transfer: stringAt(to.transfer, `${path}.to.transfer`),
    },
  };
}

export function parseEncodingPlan(value: unknown, path: string): EncodingPlan {
  const raw = objectAt(value, path);
  const video = stringAt(raw.video, `${path}.video`);
  const audio = stringAt(raw.audio, `${path}.audio`);
  if (!(VIDEO_PLANS as readonly string[]).includes(video)) fail(`${path}.video`, `one of ${VIDEO_PLANS.join(', ')}`);
  if (!(AUDIO_PLANS as readonly string[]).includes(audio)) fail(`${path}.audio`, `one of ${AUDIO_PLANS.join(', ')}`);
  const toneMap = raw.toneMap === undefined ? undefined : stringAt(raw.toneMap, `${path}.toneMap`);
  if (toneMap !== undefined && toneMap !== 'hlg' && toneMap !== 'pq') fail(`${path}.toneMap`, 'hlg or pq');
  const words = (value: unknown, at: string): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) fail(at, 'a list of strings');
    return (value as unknown[]).map((item, i) => stringAt(item, `${at}[${i}]`));
  };
  const reasons = words(raw.reasons, `${path}.reasons`);
  const warnings = words(raw.warnings, `${path}.warnings`);
  const colour = raw.colour === undefined ? undefined : parseColourPlan(raw.colour, `${path}.colour`);
  return {
    video: video as EncodingPlan['video'],
    audio: audio as EncodingPlan['audio'],
    ...(toneMap !== undefined && { toneMap: toneMap as HdrTransfer }),
    ...(colour && { colour }),
    ...(reasons && { reasons }),
    ...(warnings && { warnings }),
  };
}

export function parseOptions(value: unknown, path = 'options'): ConversionOptions {
  if (value === undefined || value === null) return { ...DEFAULT_OPTIONS };
  const raw = objectAt(value, path);
  const segmentSeconds =
    raw.segmentSeconds === undefined ? DEFAULT_OPTIONS.segmentSeconds : numberAt(raw.segmentSeconds, `${path}.segmentSeconds`);
  if (segmentSeconds < 1 || segmentSeconds > 60) fail(`${path}.segmentSeconds`, 'between 1 and 60');
  const profile = raw.profile === undefined ? DEFAULT_OPTIONS.profile : stringAt(raw.profile, `${path}.profile`);
  if (!(PROFILES as readonly string[]).includes(profile)) fail(`${path}.profile`, `one of ${PROFILES.join(', ')}`);
  if (raw.transcode !== undefined && typeof raw.transcode !== 'boolean') fail(`${path}.transcode`, 'true or false');
  return { segmentSeconds, profile: profile as Profile, ...(raw.transcode === true && { transcode: true as const }) };
}

/**
 * An execution input once checked, with every option filled in. The revision is absent when a
 * person started the run by hand with the console input: ValidateInput derives it then.
 */
export type ConversionRequest = Omit<ExecutionInput, 'revision'> & {
  revision?: string;
  options: ConversionOptions;
  /** The execution's name, as the state machine passes it to ValidateInput. */
  execution?: string;
};

/** What to type in the Step Functions console to start a conversion (README: Deploy to AWS). */
export const CONSOLE_INPUT_HELP =
  'execution input must name the object to convert: {"key": "<object key in the input bucket>"}, ' +
  'optionally with "options": {"segmentSeconds": 1-60, "profile": "source" or "360p", "transcode": true or false}';

/**
 * The S3 trigger and the CLI send `{source: {key}, revision, options}`; a person in the Step
 * Functions console sends `{key, options?}` (the revision then comes from the object's version).
 */
export function parseExecutionInput(value: unknown): ConversionRequest {
  const asObject = (v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
  const given = asObject(value);
  // ValidateInput's Parameters: the execution's input and its name ({input, execution}).
  const wrapped = given && typeof given.execution === 'string' && 'input' in given;
  const raw = wrapped ? asObject(given.input) : given;
  if (!raw || (raw.source === undefined && raw.key === undefined)) throw new InvalidRequest(CONSOLE_INPUT_HELP);
  const key = raw.source !== undefined ? stringAt(objectAt(raw.source, 'source').key, 'source.key') : stringAt(raw.key, 'key');
  return {
    source: { key },
    ...(raw.revision !== undefined && { revision: revisionAt(raw.revision, 'revision') }),
    options: parseOptions(raw.options),
    ...(raw.upload !== undefined && { upload: uploadAt(raw.upload, 'upload') }),
    ...(wrapped && { execution: given.execution as string }),
  };
}

/** An `upload` field of untrusted JSON: a sequencer of hexadecimal digits, or absent. */
function uploadAt(value: unknown, path: string): Upload | undefined {
  if (value === undefined) return undefined;
  const sequencer = stringAt(objectAt(value, path).sequencer, `${path}.sequencer`);
  if (!/^[0-9A-Fa-f]{1,64}$/.test(sequencer)) fail(`${path}.sequencer`, "the S3 event's sequencer (hexadecimal digits)");
  return { sequencer };
}

/** Steps after ValidateInput receive the Job it produced; check the parts they rely on. */
export function parseJob(value: unknown, path = 'job'): Job {
  const raw = objectAt(value, path);
  const source = objectAt(raw.source, `${path}.source`);
  const kind = stringAt(source.kind, `${path}.source.kind`);
  if (kind !== 'video' && kind !== 'audio') fail(`${path}.source.kind`, 'video or audio');
  const media = objectAt(raw.media, `${path}.media`);
  return {
    videoId: videoIdAt(raw.videoId, `${path}.videoId`),
    revision: revisionAt(raw.revision, `${path}.revision`),
    source: {
      key: stringAt(source.key, `${path}.source.key`),
      bytes: numberAt(source.bytes, `${path}.source.bytes`),
      extension: stringAt(source.extension, `${path}.source.extension`),
      kind,
    },
    media: media as unknown as ProbeResult,
    options: parseOptions(raw.options, `${path}.options`),
    ...(raw.plan !== undefined && { plan: parseEncodingPlan(raw.plan, `${path}.plan`) }),
    ...(typeof raw.execution === 'string' && { execution: raw.execution }),
    ...(raw.upload !== undefined && { upload: uploadAt(raw.upload, `${path}.upload`) }),
    ...(raw.basis !== undefined && { basis: basisAt(raw.basis, `${path}.basis`) }),
  };
}

function basisAt(value: unknown, path: string): { routeEtag?: string } {
  const raw = objectAt(value, path);
  return raw.routeEtag === undefined ? {} : { routeEtag: stringAt(raw.routeEtag, `${path}.routeEtag`) };
}

export function parseEncodeChunkInput(value: unknown): EncodeChunkInput {
  const raw = objectAt(value, 'input');
  const chunk = numberAt(raw.chunk, 'chunk');
  if (!Number.isInteger(chunk) || chunk < 0) fail('chunk', 'a chunk number (0, 1, 2 …)');
  return { videoId: videoIdAt(raw.videoId, 'videoId'), revision: revisionAt(raw.revision, 'revision'), chunk };
}

/** JoinChunks gets the job (Parameters: job.$: $.job). */
export function parseJoinChunksInput(value: unknown): Job {
  return parseJob(objectAt(value, 'input').job);
}

/**
 * The execution for one upload of a key: named after the video id and a revision of the upload's
 * version (and, from the S3 trigger, its sequencer) and the options.
 */
export function conversionFor(
  key: string,
  version: string,
  options: ConversionOptions = DEFAULT_OPTIONS,
  scheme: VideoIdScheme = {},
  upload?: Upload,
) {
  // Each upload is its own revision: the same bytes uploaded again (after a delete, or after
  // another upload replaced them) are built anew, never the published revision rebuilt.
  const revision = revisionFor(upload ? `${version} ${upload.sequencer}` : version, options);
  const input: ExecutionInput = { source: { key }, revision, options, ...(upload && { upload }) };
  return { input, executionName: executionNameFor(videoIdFor(key, scheme), input.revision) };
}
