import type * as Crypto from 'node:crypto';

/** node:crypto, loaded when a name is first hashed (not by commands that hash nothing). */
function crypto(): typeof Crypto {
  return require('node:crypto') as typeof Crypto;
}
import { NameTooLong, UnsupportedExtension } from './errors';

export const SUPPORTED_EXTENSIONS = ['.mp4', '.mp3'] as const;
export type SupportedExtension = (typeof SUPPORTED_EXTENSIONS)[number];

/** The container a file is read as: chosen by its extension, never guessed from its content. */
export type MediaFormat = 'mp4' | 'mp3';
export const FORMAT_OF: Record<SupportedExtension, MediaFormat> = { '.mp4': 'mp4', '.mp3': 'mp3' };

/** Lambda function names: 1–64 characters of letters, digits, hyphens and underscores. */
export const MAX_FUNCTION_NAME = 64;
/** Step Functions execution names: at most 80 characters. */
export const MAX_EXECUTION_NAME = 80;
const MAX_SLUG = 22;
const HASH_CHARS = 6;
/** Package numbers are zero-based; 5 digits cover 100,000 packages. */
export const MAX_PACKAGE_INDEX = 99_999;
const VIDEO_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
/** A revision: 8 hex digits when we make it (revisionFor), 4–16 of a-z0-9 when a person starts a run by hand. */
const REVISION_PART = '[a-z0-9]{4,16}';
const REVISION = new RegExp(`^${REVISION_PART}$`);
const FUNCTION_REST = new RegExp(`^(.+)-(${REVISION_PART})-(0|[1-9]\\d{0,4})$`);
const EXECUTION_NAME = new RegExp(`^(.+)-(${REVISION_PART})(?:-([2-9]|[1-9]\\d+))?$`);
export const MAX_VIDEO_ID = MAX_SLUG + 1 + HASH_CHARS;

export function sha256Hex(data: string | Uint8Array): string {
  return crypto().createHash('sha256').update(data).digest('hex');
}

/** The file name part of an object key or path (both separators, since keys come from anywhere). */
export function baseName(key: string): string {
  const parts = key.split(/[\\/]/);
  return parts[parts.length - 1] ?? '';
}

/** The extension in lower case (`.MP4` → `.mp4`), or '' when there is none. */
export function extensionOf(key: string): string {
  const name = baseName(key);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot).toLowerCase() : '';
}

/** Whether a key names a file the pipeline converts (.mp4 or .mp3, any case). */
export function isSupportedKey(key: string): boolean {
  return (SUPPORTED_EXTENSIONS as readonly string[]).includes(extensionOf(key));
}

export function supportedExtension(key: string): SupportedExtension {
  const ext = extensionOf(key);
  if (isSupportedKey(key)) return ext as SupportedExtension;
  const shown = baseName(key) || key;
  throw new UnsupportedExtension(`${JSON.stringify(shown)} is not an .mp4 or .mp3 file${ext ? ` (extension ${ext})` : ' (no extension)'}`);
}

/** A readable, ASCII, lower-case slug: "Café del Mar (live).MP4" → "cafe-del-mar-live". */
export function slugify(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return slugOf(dot > 0 ? fileName.slice(0, dot) : fileName) || 'video';
}

/** Lower-case ASCII letters and digits joined by single hyphens, at most MAX_SLUG long ('' when nothing is left). */
function slugOf(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_SLUG)
    .replace(/-+$/g, '');
}

/**
 * A local file's key in the input bucket: its name under its folder's slug and a short hash of the
 * folder's real path. The same file always gets the same key (so the same video), and a file of
 * the same name in another folder another key: `IMG_0001.MP4` from two folders are two videos.
 */
export function localSourceKey(folderRealPath: string, fileName: string): string {
  const folder = slugOf(folderRealPath.split(/[\\/]/).filter(Boolean).pop() ?? '');
  const hash = sha256Hex(folderRealPath).slice(0, HASH_CHARS);
  return `${folder ? `${folder}-` : ''}${hash}/${fileName}`;
}

/** With a secret the hash is longer (48 bits: not to be found by trying) and the slug shorter. */
const SECRET_HASH_CHARS = 12;
/** What a segment function's name adds after the video id: `-<revision of 8>-<package, up to 5 digits>`. */
const FUNCTION_NAME_TAIL = 1 + 8 + 1 + 5;

/** How a deployment (or the local default) makes its video ids; every part that names videos must use the same. */
export interface VideoIdScheme {
  /** LAMBDA_HLS_VIDEO_ID_SECRET: the hash becomes an HMAC of the key under it; none by default. */
  secret?: string;
  /** The segment functions' prefix: a long one leaves the id less room (its names fit in 64 characters). */
  functionPrefix?: string;
}

/**
 * The video id: a readable slug of the file name plus a short hash of the whole source key, so
 * two uploads with the same name in different folders get different ids, and the same key always
 * gets the same id. At most 29 characters, fewer when the function prefix is long (so that
 * `<prefix><videoId>-<revision>-<n>` fits Lambda's 64: a long stage name shortens the slug rather
 * than failing long file names). With a secret (a deployment's LAMBDA_HLS_VIDEO_ID_SECRET) the
 * hash is an HMAC of the key under it: whoever knows only a file name cannot tell its stream's address.
 */
export function videoIdFor(sourceKey: string, scheme: VideoIdScheme = {}): string {
  const { secret = '', functionPrefix } = scheme;
  const room =
    functionPrefix === undefined ? MAX_VIDEO_ID : Math.min(MAX_VIDEO_ID, MAX_FUNCTION_NAME - functionPrefix.length - FUNCTION_NAME_TAIL);
  const hash = secret
    ? crypto().createHmac('sha256', secret).update(sourceKey).digest('hex').slice(0, SECRET_HASH_CHARS)
    : sha256Hex(sourceKey).slice(0, HASH_CHARS);
  const slug = slugify(baseName(sourceKey))
    .slice(0, Math.max(0, room - 1 - hash.length))
    .replace(/-+$/, '');
  return slug ? `${slug}-${hash}` : hash;
}

/** What the stack publishes about its secret (an output), so the CLI can tell it holds the same one without the secret being shown. */
export function videoIdSecretCheck(secret: string): string {
  return crypto().createHmac('sha256', secret).update('lambda-hls video id secret check').digest('hex').slice(0, 16);
}

export function isVideoId(value: string): boolean {
  return value.length <= MAX_VIDEO_ID && VIDEO_ID.test(value);
}

export function isRevision(value: string): boolean {
  return REVISION.test(value);
}

/**
 * A revision names one version of the source together with the conversion options, so the same
 * bytes converted the same way always produce the same names (idempotent), and anything else
 * produces new ones instead of overwriting what is being played.
 */
export function revisionFor(sourceVersion: string, options: object): string {
  return sha256Hex(`${sourceVersion}\n${JSON.stringify(options)}`).slice(0, 8);
}

export function executionNameFor(videoId: string, revision: string): string {
  const name = `${videoId}-${revision}`;
  if (name.length > MAX_EXECUTION_NAME) {
    throw new NameTooLong(`execution name ${name} is longer than ${MAX_EXECUTION_NAME} characters`);
  }
  return name;
}

/** Every function of one video shares this prefix; every function of one revision, the next. */
export function videoFunctionPrefix(functionPrefix: string, videoId: string): string {
  return `${functionPrefix}${videoId}-`;
}

export function revisionFunctionPrefix(functionPrefix: string, videoId: string, revision: string): string {
  return `${videoFunctionPrefix(functionPrefix, videoId)}${revision}-`;
}

export function packageFunctionName(functionPrefix: string, videoId: string, revision: string, packageIndex: number): string {
  const name = `${revisionFunctionPrefix(functionPrefix, videoId, revision)}${packageIndex}`;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new NameTooLong(`function name ${name} has characters Lambda does not allow`);
  }
  if (name.length > MAX_FUNCTION_NAME) {
    throw new NameTooLong(
      `function name ${name} is ${name.length} characters; Lambda allows ${MAX_FUNCTION_NAME} (shorten the function prefix "${functionPrefix}")`,
    );
  }
  return name;
}

/** `<prefix><videoId>-<revision>-<n>` → its parts, or undefined for any other name. */
export function parseFunctionName(
  functionPrefix: string,
  name: string,
): { videoId: string; revision: string; package: number } | undefined {
  if (!name.startsWith(functionPrefix)) return undefined;
  const match = FUNCTION_REST.exec(name.slice(functionPrefix.length));
  if (!match || !isVideoId(match[1]!)) return undefined;
  return { videoId: match[1]!, revision: match[2]!, package: Number(match[3]) };
}

/**
 * Whether a function belongs to this video. A prefix match alone is not enough: the functions of
 * video `a-123456-bbbbbb` also start with `<prefix>a-123456-`.
 */
export function isVideoFunction(functionPrefix: string, videoId: string, name: string): boolean {
  return parseFunctionName(functionPrefix, name)?.videoId === videoId;
}

/** The name of attempt `n` of an execution: the deterministic name, then `<name>-2`, `<name>-3`… */
export function attemptName(base: string, attempt: number): string {
  return attempt === 1 ? base : `${base}-${attempt}`;
}

/**
 * `<videoId>-<revision>`, or `-<n>` after it for a later attempt (after a failed one, in AWS or
 * locally) → its parts, or undefined for any other name.
 */
export function parseExecutionName(name: string): { videoId: string; revision: string; attempt: number } | undefined {
  const match = EXECUTION_NAME.exec(name);
  if (!match || !isVideoId(match[1]!)) return undefined;
  return { videoId: match[1]!, revision: match[2]!, attempt: match[3] ? Number(match[3]) : 1 };
}

/** Throws NameTooLong unless the longest function name this video could need fits. */
export function checkNamesFit(functionPrefix: string, videoId: string, revision: string): void {
  packageFunctionName(functionPrefix, videoId, revision, MAX_PACKAGE_INDEX);
}

/** Object keys: the work area per revision, the output playlist per revision, the route per video. */
export const keys = {
  workPrefix: (videoId: string, revision: string) => `${videoId}/${revision}/`,
  /** Segment n (of a ladder's rung, in its own folder). */
  segment: (videoId: string, revision: string, index: number, rendition?: string) =>
    `${videoId}/${revision}/segments/${rendition === undefined ? '' : `${rendition}/`}${String(index).padStart(5, '0')}.ts`,
  manifest: (videoId: string, revision: string) => `${videoId}/${revision}/manifest.json`,
  /** Written before a package's function is created: what CleanUp deletes, without listing functions. */
  packageClaim: (videoId: string, revision: string, functionName: string) => `${videoId}/${revision}/packages/${functionName}`,
  packageClaimsPrefix: (videoId: string, revision: string) => `${videoId}/${revision}/packages/`,
  /** What one PackageSegments iteration packs (a BatchDocument, written by SegmentMedia). */
  batch: (videoId: string, revision: string, batch: number) => `${videoId}/${revision}/batches/${String(batch).padStart(5, '0')}.json`,
  /** What one PackageSegments iteration made: a PackageReceipt per package of the batch. */
  receipts: (videoId: string, revision: string, batch: number) => `${videoId}/${revision}/receipts/${String(batch).padStart(5, '0')}.json`,
  /** A transcode's chunks (a ChunkDocument, written by SegmentMedia). */
  chunks: (videoId: string, revision: string) => `${videoId}/${revision}/chunks/plan.json`,
  /** Chunk n's audio, encoded once for all by SegmentMedia (MPEG-TS on the output's timeline). */
  chunkAudio: (videoId: string, revision: string, chunk: number, sound?: string) =>
    `${videoId}/${revision}/chunks/${String(chunk).padStart(5, '0')}-audio${sound === undefined ? '' : `-${sound}`}.ts`,
  /** A ladder's copied top rung: its segments as SegmentMedia stored them (a ChunkManifest of chunk 0's shape). */
  copiedRung: (videoId: string, revision: string) => `${videoId}/${revision}/chunks/copied.json`,
  /** What chunk n's EncodeChunk made (a ChunkManifest). */
  chunkManifest: (videoId: string, revision: string, chunk: number) =>
    `${videoId}/${revision}/chunks/${String(chunk).padStart(5, '0')}.json`,
  offsets: (videoId: string, revision: string) => `${videoId}/${revision}/offsets.json`,
  outputPrefix: (videoId: string, revision: string) => `v/${videoId}/${revision}/`,
  playlist: (videoId: string, revision: string) => `v/${videoId}/${revision}/index.m3u8`,
  /** A ladder's rung's media playlist, beside the multivariant playlist at `playlist`. */
  renditionPlaylist: (videoId: string, revision: string, rendition: string) => `v/${videoId}/${revision}/${rendition}.m3u8`,
  /** A ladder's rung's I-frame playlist, beside its media playlist. */
  iFramePlaylist: (videoId: string, revision: string, rendition: string) => `v/${videoId}/${revision}/${rendition}-iframes.m3u8`,
  /** The revision's pictures (src/core/previews.ts): its poster, and its storyboard's track and sprite. */
  poster: (videoId: string, revision: string) => `v/${videoId}/${revision}/${POSTER_FILE}`,
  storyboard: (videoId: string, revision: string) => `v/${videoId}/${revision}/${STORYBOARD_FILE}`,
  storyboardImage: (videoId: string, revision: string) => `v/${videoId}/${revision}/${STORYBOARD_IMAGE_FILE}`,
  /** A caption set's track (./captions.ts): its subtitle playlist, and the whole track its segments are cut from. */
  subtitlePlaylist: (videoId: string, revision: string, set: string, track: number) =>
    `v/${videoId}/${revision}/${subtitlesFolder(set)}/${track}.m3u8`,
  subtitleTrack: (videoId: string, revision: string, set: string, track: number) =>
    `v/${videoId}/${revision}/${subtitlesFolder(set)}/${track}.vtt`,
  route: (videoId: string) => `routes/${videoId}.json`,
  routesPrefix: 'routes/',
} as const;

/** A caption set's folder in its revision's: `subtitles-<set>` (a set never changes; another set is another folder). */
export function subtitlesFolder(set: string): string {
  return `subtitles-${set}`;
}

export const POSTER_FILE = 'poster.jpg';
export const STORYBOARD_FILE = 'storyboard.vtt';
export const STORYBOARD_IMAGE_FILE = 'storyboard.jpg';

/** A video's poster as pages and link previews fetch it (the served revision's). */
export function posterPath(videoId: string): string {
  return `/v/${videoId}/${POSTER_FILE}`;
}
/** A revision's storyboard track; its cues name the sprite beside it. */
export function storyboardPath(videoId: string, revision: string): string {
  return `/v/${videoId}/${revision}/${STORYBOARD_FILE}`;
}

export function playbackPath(videoId: string): string {
  return `/v/${videoId}/index.m3u8`;
}

/** A ladder's rung's media playlist, as the multivariant playlist at playbackPath names it. */
export function renditionPlaybackPath(videoId: string, revision: string, rendition: string): string {
  return `/v/${videoId}/${revision}/${rendition}.m3u8`;
}

/** SegmentMedia's scratch folders: `<scratch>/segment-<videoId>-<process tag>-XXXXXX` (gc finds a killed run's by it). */
export const SCRATCH_PREFIX = 'segment-';
