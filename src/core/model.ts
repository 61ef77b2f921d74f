// The data that flows between the states of ConvertVideo. Every shape here is JSON.
import { DEFAULT_RENDITION, type RenditionName } from './renditions';
import type { RoutePictures } from './previews';
import type { CaptionSource, RouteCaptions } from './captions';

export type MediaKind = 'video' | 'audio';
/** The `profile` option: the rendition a conversion makes (./renditions.ts). */
export type Profile = RenditionName;

export interface ConversionOptions {
  /** Target segment length in seconds; ffmpeg cuts at the next keyframe after it when copying. */
  segmentSeconds: number;
  /** A rendition's name (./renditions.ts): `source` keeps H.264 as it is; `360p` always transcodes to 640x360 baseline 3.0. */
  profile: Profile;
  /**
   * Re-encode H.264 that could be copied, so every segment is cut where asked (copying cuts only
   * at the source's keyframes). Present only when true, so other runs keep their revisions.
   */
  transcode?: true;
  /**
   * An adaptive ladder (./ladder.ts): `auto`, the rungs chosen from the source (the default every
   * input gets: CLI, S3 trigger, console), or the rungs' heights; `source`, one rendition as
   * `profile` says (what `--profile 360p` implies). Absent in a job written before the ladder: one
   * rendition, as it was then.
   */
  ladder?: LadderOption;
}

export type LadderOption = 'auto' | 'source' | number[];

/** Apple's HLS authoring 7.5: a 6-s target duration; a ladder (9.9). */
export const DEFAULT_OPTIONS: ConversionOptions = { segmentSeconds: 6, profile: DEFAULT_RENDITION, ladder: 'auto' };

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
  /** Its text streams (an mp4's mov_text): each becomes a subtitle rendition (./captions.ts). */
  textTracks?: TextTrack[];
}

/** A text stream of the source, as ffprobe names it: its index among all streams, its codec, its language tag. */
export interface TextTrack {
  stream: number;
  codec: string;
  language?: string;
  title?: string;
}

/** The first video stream, as far as the encoding plan needs it. */
export interface VideoStream {
  codec: string;
  /** As coded, before rotation. */
  width: number;
  height: number;
  frameRate?: number;
  /** The stream's average bit rate in bits per second, where the file says. */
  bitRate?: number;
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
  /** The captions ValidateInput found: sidecar files beside the source and its own text streams (MakeCaptions reads them). */
  captions?: CaptionSource[];
}

/**
 * What SegmentMedia does to each stream: the picture copied as it is, encoded as its rendition
 * (./renditions.ts) says, or absent (audio only).
 */
export type EncodingPlan = StreamPlan &
  (
    | { video: 'encode'; rendition: RenditionName; rungs?: never }
    | { video: 'ladder'; rungs: RungPlan[]; rendition?: never }
    | { video: 'copy'; rendition?: never; rungs?: never }
    | { video: 'none'; rendition?: never; rungs?: never }
  );

/**
 * One rung of a ladder as planned for this source (./ladder.ts): its size, its rates and its
 * sound. Every rung is encoded from one decode of each chunk, cut at the same times.
 */
export interface RungPlan {
  /** `720p`: its media playlist's name and the route record's rendition. */
  name: string;
  width: number;
  height: number;
  /** Average and peak (VBV) video bit rate, and the VBV buffer, in kbit/s. */
  kbps: number;
  maxKbps: number;
  bufferKbps: number;
  profile: 'baseline' | 'main' | 'high';
  /** The ladder's shared sound, or the cellular rung's own (./renditions.ts LADDER_AUDIO_KBPS). */
  audio: 'shared' | 'low';
  /**
   * The source's own H.264, copied as it is (a ladder's top rung, when every player decodes the
   * source): its rates are the source's, and the other rungs are cut where it is.
   */
  copy?: true;
}

/** What an EncodingPlan says besides the picture's treatment. */
export interface StreamPlan {
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
  /** A ladder's rung (RungPlan.name) the segment belongs to; absent with one rendition. */
  rendition?: string;
  /** Its number within its rung (a ladder's segments are numbered across every rung). */
  position?: number;
  key: string;
  bytes: number;
  /** CRC-32 of the bytes, computed on upload: the package's zip headers carry it. */
  crc32: number;
  /** Seconds, from ffmpeg's segment list. */
  start: number;
  duration: number;
  /** A rung's first segment: the CODECS its variant declares, read from its bytes (./ts-codecs.ts). */
  codecs?: string;
  /** A ladder's segment: each keyframe as [offset, length, seconds] inside its bytes (./ts-keyframes.ts), for I-frame playlists. */
  keyframes?: number[][];
}

export interface SegmentManifest {
  videoId: string;
  revision: string;
  plan: EncodingPlan;
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
  plan: EncodingPlan;
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
  plan: EncodingPlan;
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
  plan: EncodingPlan;
  segmentSeconds: number;
  /** Output time = source time − sourceStart + timeOffset (see timelineOffset). */
  timeOffset: number;
  sourceStart: number;
  /** Chunks whose audio SegmentMedia encoded (keys.chunkAudio); the rest have none (a shorter audio track). */
  audioChunks: number;
  chunks: ChunkPlan[];
  /**
   * Where every segment starts on the output's timeline, when not every segmentSeconds: a ladder
   * whose top rung is copied is cut where the copy is (its segments at keys.copiedRung).
   */
  cuts?: number[];
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
  /** As its SegmentRecord says. */
  rendition?: string;
  position?: number;
  codecs?: string;
  keyframes?: number[][];
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
  /**
   * Each rendition's media playlist (./renditions.ts). With one rendition it is the playlist at
   * `playlistKey`, which players open; with several, `playlistKey` is the multivariant playlist
   * naming them. Absent in records written before the rendition table: one rendition, at `playlistKey`.
   */
  renditions?: RenditionPlaylist[];
  /** The revision's poster and storyboard (./previews.ts); absent when it has none (a sound file, or records from before). */
  pictures?: RoutePictures;
  /** The revision's subtitle renditions (./captions.ts); absent when it has none. */
  captions?: RouteCaptions;
}

/** A ladder's rung as its variant declares it (bit rates in bits per second, measured from its stored segments). */
export interface RenditionVariant {
  name: string;
  width: number;
  height: number;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string;
}

/** WritePlaylist's record of a rung: its variant and its playlists' keys. */
export interface RenditionResult extends RenditionVariant {
  playlistKey: string;
  /** Its I-frame playlist (its keyframes by byte range). */
  iFramesKey?: string;
}

/**
 * A route record's ladder as its rungs' variants (none with one rendition), each with where its
 * media playlist is played from: what RegisterRoute, `convert --json` and `list --json` report.
 */
export function ladderVariants(
  route: { renditions?: RenditionPlaylist[] | undefined },
  playlistOf: (rendition: RenditionPlaylist) => string,
): (RenditionVariant & { playlist: string })[] | undefined {
  const rungs = (route.renditions ?? []).filter((r) => r.bandwidth !== undefined);
  if (rungs.length === 0) return undefined;
  return rungs.map((r) => ({
    name: r.rendition,
    width: r.width ?? 0,
    height: r.height ?? 0,
    bandwidth: r.bandwidth ?? 0,
    averageBandwidth: r.averageBandwidth ?? 0,
    codecs: r.codecs ?? '',
    playlist: playlistOf(r),
  }));
}

/** A rendition's media playlist, as a route record names it. */
export interface RenditionPlaylist {
  /** A profile's name (./renditions.ts), or a ladder's rung (`720p`). */
  rendition: string;
  playlistKey: string;
  /** A ladder's rung as its variant declares it (bit rates in bits per second, measured). */
  width?: number;
  height?: number;
  bandwidth?: number;
  averageBandwidth?: number;
  codecs?: string;
  /** A ladder's rung's I-frame playlist. */
  iFramesKey?: string;
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
  /** The replaced record's renditions, when it named them. */
  renditions?: RenditionPlaylist[];
  /** The replaced record's pictures: a page loaded before the switch still shows its storyboard. */
  pictures?: RoutePictures;
}

/** One chunk of a transcode, as SegmentMedia planned it (./chunks.ts) for an EncodeChunk task. */
export interface ChunkPlan {
  chunk: number;
  firstSegment: number;
  segmentCount: number;
  /** Seconds on the output's timeline (0 = the source's start): the chunk holds the frames of [start, end). */
  start: number;
  /** Absent for the last chunk: to the end of the input. */
  end?: number;
}
