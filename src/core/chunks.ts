// A transcode split across the EncodeChunks Map: chunks of whole segments, each sized so that it
// finishes well inside the encoding function's timeout at its CPU share, as many as fill the Map's
// concurrency, and the whole plan checked against every limit before anything is made. Pure:
// decided from the probe, the options and the limits only.
import { TranscodeTooLarge } from './errors';
import type { ChunkPlan, EncodingPlan, Job } from './model';
import { DEFAULT_BATCH_LIMITS } from './packing';

/** How fast, how long and how wide chunks may be encoded (settings; the stack sets the function's own). */
export interface EncodeLimits {
  /** Megapixels of source video libx264 (veryfast, with decoding and scaling) gets through per CPU-second. */
  speedMegapixels: number;
  /** The encoding function's timeout, in seconds; none locally. */
  timeoutSeconds?: number | undefined;
  /** CPUs one encoding task has (Lambda: its memory / 1,769 MB). */
  cpus: number;
  /** Chunks encoded at once (the Map's MaxConcurrency). */
  concurrency: number;
  /** Longest chunk whatever the estimate allows, in seconds (tests force small chunks). */
  maxChunkSeconds?: number | undefined;
}

/**
 * The default speed: 43 frames per CPU-second at 1080p measured on a synthetic clip (89 Mpx/s),
 * halved for real footage (noise, motion, HEVC decoding): 45 Mpx per CPU-second.
 */
export const DEFAULT_ENCODE_SPEED_MEGAPIXELS = 45;
/** A chunk's estimate times this must fit its timeout: real footage may be slower than configured. */
export const ENCODE_SAFETY = 2;
/** Each task's fixed cost besides encoding: start, the input's index, the seek, the last segments' upload. */
export const TASK_OVERHEAD_SECONDS = 30;
/** Shorter chunks gain little from parallelism and pay the fixed cost more often. */
export const MIN_CHUNK_SECONDS = 30;
/** Decoding a picture costs about this share of encoding it (libx264 veryfast); a ladder's copied top rung only decodes. */
const DECODE_SHARE = 0.25;
/** Tone mapping (float RGB through zimg) costs about as much again as encoding. */
const TONE_MAP_COST = 2;
/** ConvertVideo's TimeoutSeconds and history limit (25,000 events), and what the rest of a run needs of them. */
export const EXECUTION_TIMEOUT_SECONDS = 86_400;
export const HISTORY_EVENT_LIMIT = 25_000;
const EVENTS_PER_ITERATION = 7;
const EVENTS_OUTSIDE_MAPS = 80;
/** Step Functions' state payload limit; the Map's items are chunk numbers of at most 6 characters. */
export const PAYLOAD_LIMIT_BYTES = 262_144;
/**
 * SegmentMedia encodes the audio once for every chunk: ffmpeg's AAC encoder runs at ~100× real
 * time per CPU or better, and the input is read once through, at ~80 MB/s (S3 to a 3 GB Lambda).
 */
const AUDIO_SPEED = 100;
const READ_BYTES_PER_SECOND = 80 * 1000 ** 2;

export interface Chunking {
  segmentSeconds: number;
  segmentCount: number;
  chunkSegments: number;
  chunks: ChunkPlan[];
  /** Chunks encoded at once: the limit, or fewer when there are fewer chunks. */
  concurrency: number;
  estimate: {
    /** Wall seconds of encoding per second of video, in one task. */
    perVideoSecond: number;
    /** The longest chunk's estimated wall time (without the safety factor). */
    chunkSeconds: number;
    /** Estimated wall time of the whole Map and of the audio, and the history events of the run. */
    mapSeconds: number;
    audioSeconds: number;
    historyEvents: number;
  };
}

/** Whether a plan transcodes the picture: then it is encoded in chunks. */
export function isChunked(plan: EncodingPlan): boolean {
  return plan.video === 'encode' || plan.video === 'ladder';
}

function seconds(value: number): string {
  return value >= 120 ? `${Math.round(value / 60)} min` : `${Math.round(value)} s`;
}

/**
 * Chunks for a transcode, or TranscodeTooLarge when even chunks cannot fit: a single segment past
 * the encoding function's timeout, the audio past SegmentMedia's, the whole Map past the
 * execution's timeout, or more iterations than its history holds.
 */
export function planChunks(
  job: Pick<Job, 'media' | 'options' | 'source'>,
  plan: EncodingPlan,
  limits: EncodeLimits,
  /** Where segments start when they are cut where a copy is (a ladder's copied top rung), not every segmentSeconds. */
  cuts?: readonly number[],
): Chunking {
  const { media, options } = job;
  const duration = media.durationSeconds;
  const segmentCount = cuts ? cuts.length : Math.max(1, Math.ceil(duration / options.segmentSeconds - 1e-9));
  // Copied cuts fall at the source's keyframes: sized by the longest segment.
  const segmentSeconds = cuts
    ? Math.max(options.segmentSeconds, ...cuts.map((c, i) => (cuts[i + 1] ?? duration) - c))
    : options.segmentSeconds;
  const startOf = (segment: number) => (cuts ? cuts[segment]! : segment * segmentSeconds);
  const video = media.video;
  // Unknown frame rate: assume 60, the costliest a phone records at length.
  const fps = video?.frameRate ?? 60;
  // A ladder's chunk decodes once and encodes every rung: its cost is the rungs' pixels together.
  // A ladder's chunk decodes once and encodes every rung: its cost is the rungs' pixels together. A
  // copied top rung is not encoded, but its source is still decoded.
  const source = (video?.width ?? 1920) * (video?.height ?? 1080);
  const pixels =
    plan.video === 'ladder' ? plan.rungs.reduce((sum, r) => sum + (r.copy ? source * DECODE_SHARE : r.width * r.height), 0) : source;
  const cost = plan.toneMap ? TONE_MAP_COST : 1;
  const perVideoSecond = (fps * pixels * cost) / (limits.speedMegapixels * 1e6 * limits.cpus);
  const describe = `${video ? `${video.width}x${video.height} at ${fps.toFixed(fps % 1 ? 2 : 0)} fps` : 'this video'}`;

  // The longest chunk whose estimate, fixed cost included, times the safety factor fits the timeout.
  let capSegments = Number.POSITIVE_INFINITY;
  if (limits.timeoutSeconds !== undefined) {
    const budget = limits.timeoutSeconds / ENCODE_SAFETY - TASK_OVERHEAD_SECONDS;
    capSegments = Math.floor(budget / (perVideoSecond * segmentSeconds));
    if (capSegments < 1) {
      throw new TranscodeTooLarge(
        `one ${segmentSeconds}-s segment of ${describe} is estimated at ${seconds(perVideoSecond * segmentSeconds)} of encoding (×${ENCODE_SAFETY} for safety), and an encoding task may run ${limits.timeoutSeconds} s: use shorter segments (--segment-seconds) or --profile 360p`,
      );
    }
  }
  if (limits.maxChunkSeconds !== undefined)
    capSegments = Math.min(capSegments, Math.max(1, Math.floor(limits.maxChunkSeconds / segmentSeconds)));
  // Enough chunks to fill the Map once, none shorter than MIN_CHUNK_SECONDS (unless forced).
  const spread = Math.max(Math.ceil(segmentCount / limits.concurrency), Math.ceil(MIN_CHUNK_SECONDS / segmentSeconds));
  const chunkSegments = Math.max(1, Math.min(capSegments, spread, segmentCount));
  const chunks: ChunkPlan[] = [];
  for (let first = 0; first < segmentCount; first += chunkSegments) {
    const count = Math.min(chunkSegments, segmentCount - first);
    const last = first + count >= segmentCount;
    chunks.push({
      chunk: chunks.length,
      firstSegment: first,
      segmentCount: count,
      start: startOf(first),
      ...(!last && { end: startOf(first + count) }),
    });
  }

  const chunkSeconds = perVideoSecond * chunkSegments * segmentSeconds + TASK_OVERHEAD_SECONDS;
  const concurrency = Math.min(limits.concurrency, chunks.length);
  const mapSeconds = Math.ceil(chunks.length / concurrency) * chunkSeconds;
  const audioSeconds = duration / AUDIO_SPEED + job.source.bytes / READ_BYTES_PER_SECOND;
  // Packaging at worst one package per segment, in batches.
  const batches = Math.ceil(segmentCount / DEFAULT_BATCH_LIMITS.maxPackages);
  const historyEvents = EVENTS_OUTSIDE_MAPS + EVENTS_PER_ITERATION * (chunks.length + batches);
  const estimate = { perVideoSecond, chunkSeconds, mapSeconds, audioSeconds, historyEvents };

  if (limits.timeoutSeconds !== undefined && (audioSeconds + TASK_OVERHEAD_SECONDS) * ENCODE_SAFETY > limits.timeoutSeconds) {
    throw new TranscodeTooLarge(
      `encoding the audio of ${seconds(duration)} (reading all ${Math.round(job.source.bytes / 1e9)} GB of the input) is estimated at ${seconds(audioSeconds)}, more than SegmentMedia's ${limits.timeoutSeconds} s allow with a safety factor of ${ENCODE_SAFETY}`,
    );
  }
  // Half the execution's timeout: packaging and the rest of the run need the other half at most.
  if (mapSeconds * ENCODE_SAFETY > EXECUTION_TIMEOUT_SECONDS / 2) {
    throw new TranscodeTooLarge(
      `${describe}, ${seconds(duration)} long, needs ${chunks.length} chunks of ~${seconds(chunkSeconds)} each; ${concurrency} at a time that is ~${seconds(mapSeconds)}, and twice that (for safety) is more than half the execution's ${EXECUTION_TIMEOUT_SECONDS / 3600} h (the rest is for packaging): raise LAMBDA_HLS_ENCODE_CONCURRENCY, or use --profile 360p`,
    );
  }
  if (historyEvents > HISTORY_EVENT_LIMIT) {
    throw new TranscodeTooLarge(
      `${chunks.length} chunks and up to ${batches} packaging batches would need ~${historyEvents} history events, more than Step Functions' ${HISTORY_EVENT_LIMIT}: use longer segments`,
    );
  }
  return { segmentSeconds, segmentCount, chunkSegments, chunks, concurrency, estimate };
}

/**
 * How many chunks may encode at once on an account with `unreserved` concurrent executions left
 * for functions without a reservation (every EncodeChunk is one): at most half of them, so
 * playback and the account's other work keep the rest, and never more than asked. Undefined
 * `unreserved` (no account: a local run) changes nothing.
 */
export function chunkConcurrencyFor(asked: number, unreserved: number | undefined): { concurrency: number; note?: string } {
  if (unreserved === undefined) return { concurrency: asked };
  const share = Math.max(1, Math.floor(unreserved / 2));
  if (share >= asked) return { concurrency: asked };
  return {
    concurrency: share,
    note: `at most ${share} chunks at once, not ${asked}: the account has ${unreserved} unreserved concurrent executions, and half of them are left to playback and its other functions`,
  };
}

/** One line for a person: how the transcode is split. */
export function describeChunking(chunking: Chunking): string {
  const n = chunking.chunks.length;
  const length = chunking.chunkSegments * chunking.segmentSeconds;
  return n === 1 ? 'encoding in 1 chunk' : `encoding in ${n} chunks of ${length} s, ${chunking.concurrency} at a time`;
}

/**
 * Where the output's timeline puts a source's frames: source time − the source's start + this
 * offset. Each chunk is encoded with timestamps kept (-copyts), so the offset keeps the first
 * frames' decoding times (B-frames: two frames early) and the audio's priming above zero, and
 * every chunk shifts nothing of its own. Whole seconds, so segment boundaries add up exactly.
 */
export function timelineOffset(frameRate: number | undefined): number {
  return Math.max(1, Math.ceil(4 / (frameRate ?? 25)));
}

/** Lambda gives a function one vCPU per 1,769 MB of memory. */
export const MB_PER_VCPU = 1769;

/** The settings that size a transcode's chunks (ValidateInput and SegmentMedia read them). */
export interface EncodeSettings {
  encodeConcurrency: number;
  encodeSpeedMegapixels: number;
  maxChunkSeconds?: number | undefined;
  /** The encodeChunk function's timeout and memory, as the stack sets them; unset locally. */
  encodeTimeoutSeconds?: number | undefined;
  encodeMemoryMb?: number | undefined;
}

/** The limits as the settings give them: deployed, the encoding function's; locally, no timeout (a CPU per task, for the estimates). */
export function encodeLimitsOf(settings: EncodeSettings): EncodeLimits {
  return {
    speedMegapixels: settings.encodeSpeedMegapixels,
    timeoutSeconds: settings.encodeTimeoutSeconds,
    cpus: settings.encodeMemoryMb !== undefined ? settings.encodeMemoryMb / MB_PER_VCPU : 1,
    concurrency: settings.encodeConcurrency,
    maxChunkSeconds: settings.maxChunkSeconds,
  };
}
