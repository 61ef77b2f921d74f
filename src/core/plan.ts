// What SegmentMedia does to each stream. Pure: decided from the probe and the options only.
import type { EncodingPlan, Job } from './model';

export function planEncoding(job: Pick<Job, 'source' | 'media' | 'options'>): EncodingPlan {
  const { media, options, source } = job;
  const audio = media.audio ? (media.audio.codec === 'aac' && source.kind === 'video' ? 'copy' : 'aac') : 'none';
  // An .mp3 becomes audio-only AAC in MPEG-TS, which every HLS player accepts.
  if (source.kind === 'audio' || !media.video) return { video: 'none', audio: media.audio ? 'aac' : 'none' };
  if (options.profile === '360p') return { video: 'h264-360p', audio: media.audio ? 'aac' : 'none' };
  // H.264 goes into MPEG-TS as it is (ffmpeg inserts h264_mp4toannexb); anything else is encoded.
  return { video: media.video.codec === 'h264' ? 'copy' : 'h264', audio };
}

/**
 * One iteration of the PackageSegments Map: consecutive segments `first` … `first + count - 1`.
 * The Map runs over batches, not segments, so a long video keeps the history small: each
 * iteration adds about seven events whatever it holds (25,000 per execution at most).
 */
export interface SegmentBatch {
  batch: number;
  first: number;
  count: number;
  bytes: number;
}

export interface BatchLimits {
  /** Segments per iteration: bounds the iteration's time (CreateFunction shares ~15 req/s). */
  maxSegments: number;
  /** Bytes per iteration: bounds the time spent uploading inside one Lambda invocation. */
  maxBytes: number;
}

/** 8,640 segments (24 h at 10 s) make 346 iterations, about 2,400 history events. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxSegments: 25, maxBytes: 400 * 1024 * 1024 };

/** Splits segments (in index order, indices 0, 1, 2 …) into batches within the limits. */
export function planBatches(segments: readonly { index: number; bytes: number }[], limits = DEFAULT_BATCH_LIMITS): SegmentBatch[] {
  const batches: SegmentBatch[] = [];
  let current: SegmentBatch | undefined;
  segments.forEach((segment, position) => {
    if (segment.index !== position) throw new Error(`segment ${segment.index} found at position ${position}: indices must run 0, 1, 2 …`);
    if (!current || current.count >= limits.maxSegments || (current.count > 0 && current.bytes + segment.bytes > limits.maxBytes)) {
      current = { batch: batches.length, first: segment.index, count: 0, bytes: 0 };
      batches.push(current);
    }
    current.count++;
    current.bytes += segment.bytes;
  });
  return batches;
}

/** Lambda: function code and layers ≤ 250 MB unzipped (262,144,000 bytes). */
export const MAX_PACKAGE_BYTES = 262_144_000;
