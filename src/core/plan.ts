// What SegmentMedia does to each stream. Pure: decided from the probe and the options only.
import type { EncodingPlan, Job } from './model';
import { STORED_ZIP_END_BYTES, storedEntryOverhead } from './zip';

export function planEncoding(job: Pick<Job, 'source' | 'media' | 'options'>): EncodingPlan {
  const { media, options, source } = job;
  const audio = media.audio ? (media.audio.codec === 'aac' && source.kind === 'video' ? 'copy' : 'aac') : 'none';
  // An .mp3 becomes audio-only AAC in MPEG-TS, which every HLS player accepts.
  if (source.kind === 'audio' || !media.video) return { video: 'none', audio: media.audio ? 'aac' : 'none' };
  if (options.profile === '360p') return { video: 'h264-360p', audio: media.audio ? 'aac' : 'none' };
  // H.264 goes into MPEG-TS as it is (ffmpeg inserts h264_mp4toannexb); anything else is encoded.
  return { video: media.video.codec === 'h264' ? 'copy' : 'h264', audio };
}

/** Lambda: function code and layers ≤ 250 MB unzipped (262,144,000 bytes). */
export const MAX_PACKAGE_BYTES = 262_144_000;
/**
 * CreateFunction sends a direct zip base64-encoded inside its JSON request, which must be smaller
 * than 69,905,067 bytes. The rest of the request is 402 bytes with a 64-character function name and
 * role name (measured with the SDK's own serialiser); 512 leaves room for a role path.
 */
export const CREATE_FUNCTION_REQUEST_LIMIT = 69_905_067;
const CREATE_FUNCTION_REQUEST_OVERHEAD = 512;
/** The largest zip CreateFunction takes directly (52,428,414 bytes, a little under 50 MiB); larger ones go through S3. */
export const DIRECT_UPLOAD_BYTES = Math.floor((CREATE_FUNCTION_REQUEST_LIMIT - 1 - CREATE_FUNCTION_REQUEST_OVERHEAD) / 4) * 3;

/** The name of segment `index` inside its package. */
export function segmentEntryName(index: number): string {
  return `${String(index).padStart(5, '0')}.ts`;
}

/** A package: consecutive segments `first` … `first + count - 1` in one stored zip of `bytes`. */
export interface PackagePlan {
  package: number;
  first: number;
  count: number;
  bytes: number;
}

export interface PackingLimits {
  /** Zip bytes per package: by default what fits CreateFunction's direct 50 MB upload. */
  maxBytes: number;
  /** Entries per package: keeps read-back and listing quick (zip without zip64 allows 65,535). */
  maxEntries: number;
}

export const DEFAULT_PACKING: PackingLimits = { maxBytes: DIRECT_UPLOAD_BYTES, maxEntries: 1000 };

/**
 * Fills packages with consecutive segments up to the limits. A segment larger than `maxBytes`
 * gets a package of its own (stored through S3, up to MAX_PACKAGE_BYTES; SegmentMedia refuses
 * larger ones before this).
 */
export function planPackages(segments: readonly { index: number; bytes: number }[], limits = DEFAULT_PACKING): PackagePlan[] {
  const packages: PackagePlan[] = [];
  let current: PackagePlan | undefined;
  segments.forEach((segment, position) => {
    if (segment.index !== position) throw new Error(`segment ${segment.index} found at position ${position}: indices must run 0, 1, 2 …`);
    const grows = segment.bytes + storedEntryOverhead(segmentEntryName(segment.index));
    if (!current || current.count >= limits.maxEntries || current.bytes + grows > limits.maxBytes) {
      current = { package: packages.length, first: segment.index, count: 0, bytes: STORED_ZIP_END_BYTES };
      packages.push(current);
    }
    current.count++;
    current.bytes += grows;
  });
  return packages;
}

/**
 * One iteration of the PackageSegments Map: consecutive packages. The Map runs over batches so a
 * long video keeps the history small: each iteration adds about seven events whatever it holds.
 */
export interface BatchPlan {
  batch: number;
  firstPackage: number;
  packageCount: number;
  bytes: number;
}

export interface BatchLimits {
  /** Packages per iteration: CreateFunction shares ~15 requests/s per account. */
  maxPackages: number;
  /** Bytes per iteration: bounds the time one Lambda invocation spends streaming packages. */
  maxBytes: number;
}

/** At one package per 10-second segment, 8,640 segments (24 h) make 1,080 iterations, ~7,600 events. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxPackages: 8, maxBytes: 400 * 1024 * 1024 };

export function planBatches(packages: readonly PackagePlan[], limits = DEFAULT_BATCH_LIMITS): BatchPlan[] {
  const batches: BatchPlan[] = [];
  let current: BatchPlan | undefined;
  for (const pkg of packages) {
    if (!current || current.packageCount >= limits.maxPackages || current.bytes + pkg.bytes > limits.maxBytes) {
      current = { batch: batches.length, firstPackage: pkg.package, packageCount: 0, bytes: 0 };
      batches.push(current);
    }
    current.packageCount++;
    current.bytes += pkg.bytes;
  }
  return batches;
}
