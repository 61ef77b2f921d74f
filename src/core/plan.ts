// What SegmentMedia does to each stream, and why. Pure: decided from the probe and the options
// only. H.264 is copied only when every HLS player can decode it as it is and copying keeps what
// the source shows; anything else is encoded, upright, trimmed as the source plays, even-sized
// and SDR.
import type { ColourPlan, EncodingPlan, HdrTransfer, Job, SourceMatrix, VideoStream } from './model';
import { STORED_ZIP_END_BYTES, storedEntryOverhead } from './zip';

/** H.264 profiles HLS players decode (Apple's HLS authoring spec; hardware decoders). */
const PLAYABLE_H264_PROFILES = new Set(['Constrained Baseline', 'Baseline', 'Main', 'High']);
/** 8-bit 4:2:0 (yuvj420p is the same with full-range levels). */
const PLAYABLE_PIXEL_FORMATS = new Set(['yuv420p', 'yuvj420p']);
/** Level 5.2: 4K at 60 fps, the highest the HLS authoring spec lists for H.264. */
const MAX_H264_LEVEL = 52;
const HDR_TRANSFERS: Record<string, HdrTransfer> = { 'arib-std-b67': 'hlg', smpte2084: 'pq' };
const CODEC_NAMES: Record<string, string> = {
  h264: 'H.264',
  hevc: 'HEVC',
  mpeg4: 'MPEG-4 Part 2',
  vp9: 'VP9',
  av1: 'AV1',
  prores: 'ProRes',
};

/** Seconds an edit list keeps out of play (frames held beyond the played duration), when it is more than a frame or two. */
export function editListTrim(video: VideoStream, playedSeconds: number): number {
  if (!video.frames || !video.frameRate || !(playedSeconds > 0)) return 0;
  const held = video.frames / video.frameRate;
  const trimmed = held - playedSeconds;
  return trimmed > Math.max(2 / video.frameRate, 0.1) ? trimmed : 0;
}

function level(value: number): string {
  return (value / 10).toFixed(1);
}

/**
 * Why this video cannot be copied as it is (empty when it can): what players could not decode,
 * and what a copy would show differently from the source (which an encode also puts right).
 */
function reasonsToEncode(
  video: VideoStream,
  hdr: HdrTransfer | undefined,
  trimmed: number,
): { undecodable: string[]; corrected: string[] } {
  const undecodable: string[] = [];
  if (video.codec !== 'h264') undecodable.push(`the source is ${CODEC_NAMES[video.codec] ?? video.codec}`);
  else if (video.profile && !PLAYABLE_H264_PROFILES.has(video.profile)) undecodable.push(`H.264 ${video.profile} is not widely playable`);
  else if (video.pixelFormat && !PLAYABLE_PIXEL_FORMATS.has(video.pixelFormat))
    undecodable.push(`H.264 in ${video.pixelFormat} is not widely playable`);
  else if (video.level !== undefined && video.level > MAX_H264_LEVEL)
    undecodable.push(`H.264 level ${level(video.level)} is above ${level(MAX_H264_LEVEL)}`);
  else if (video.openGop) undecodable.push("open GOPs (a copy's segments would not decode alone)");
  const corrected: string[] = [];
  if (video.rotation) corrected.push(`rotated ${video.rotation}°: turned upright`);
  if (hdr) corrected.push(`HDR (${hdr === 'hlg' ? 'HLG' : 'PQ'}): tone-mapped to SDR BT.709`);
  if (trimmed > 0) corrected.push(`an edit list trims ${trimmed.toFixed(1)} s that a copy would bring back`);
  return { undecodable, corrected };
}

export function planEncoding(job: Pick<Job, 'source' | 'media' | 'options'>): EncodingPlan {
  const { media, options, source } = job;
  const warnings = (media.audioTracks ?? 0) > 1 ? [`only the first of ${media.audioTracks} audio tracks is kept`] : [];
  const audioName = media.audio ? (CODEC_NAMES[media.audio.codec] ?? media.audio.codec.toUpperCase()) : '';
  // An .mp3 becomes audio-only AAC in MPEG-TS, which every HLS player accepts.
  if (source.kind === 'audio' || !media.video) {
    return {
      video: 'none',
      audio: media.audio ? 'aac' : 'none',
      reasons: media.audio ? [`audio only: ${audioName} to AAC`] : [],
      warnings,
    };
  }
  const video = media.video;
  const trimmed = editListTrim(video, media.durationSeconds);
  const hdr = video.transfer ? HDR_TRANSFERS[video.transfer] : undefined;
  const toneMap = hdr ? { toneMap: hdr } : {};
  const { undecodable, corrected } = reasonsToEncode(video, hdr, trimmed);
  // Tone mapping makes its own BT.709 (toneMapFilters); every other transcode keeps its colour right here.
  const colour = hdr ? {} : { colour: planColour(video) };
  if (options.profile === '360p') {
    return {
      video: 'h264-360p',
      audio: media.audio ? 'aac' : 'none',
      ...toneMap,
      ...colour,
      reasons: ['--profile 360p', ...corrected],
      warnings,
    };
  }
  // Copied AAC would keep what an edit list trims: then it is encoded too, starting where the picture does.
  // Only AAC-LC and HE-AAC are copied: browsers' MSE decode those, not AAC Main, LTP or SSR.
  const playable = media.audio?.codec === 'aac' && (media.audio.profile === undefined || PLAYABLE_AAC.has(media.audio.profile));
  const audio = !media.audio ? 'none' : playable && trimmed === 0 ? 'copy' : 'aac';
  const audioReason =
    audio !== 'aac'
      ? []
      : [
          media.audio?.codec !== 'aac'
            ? `audio: ${audioName} to AAC`
            : !playable
              ? `audio: AAC ${media.audio.profile} to AAC-LC (browsers play AAC-LC and HE-AAC only)`
              : 'audio re-encoded to the trim',
        ];
  const encode = [...undecodable, ...corrected];
  if (encode.length === 0 && options.transcode) encode.push('--transcode: segments cut where asked');
  if (encode.length === 0) {
    const what = ['H.264', video.profile, video.level !== undefined ? level(video.level) : undefined].filter(Boolean).join(' ');
    return { video: 'copy', audio, reasons: [`copying ${what}`, ...audioReason], warnings };
  }
  const [width, height] = video.rotation === 90 || video.rotation === 270 ? [video.height, video.width] : [video.width, video.height];
  if (width % 2 || height % 2) encode.push(`odd frame size ${width}x${height}: scaled to ${width - (width % 2)}x${height - (height % 2)}`);
  return { video: 'h264', audio, ...toneMap, ...colour, reasons: [...encode, ...audioReason], warnings };
}

/** AAC profiles (ffprobe's names) every HLS player decodes, MSE in browsers included. */
const PLAYABLE_AAC = new Set(['LC', 'HE-AAC', 'HE-AACv2']);

/** ffprobe's colour matrix names, as the matrix the pixels were made with. */
const MATRIX_OF: Record<string, SourceMatrix> = {
  bt709: 'bt709',
  smpte170m: 'bt601',
  bt470bg: 'bt601',
  bt2020nc: 'bt2020',
  bt2020c: 'bt2020',
  gbr: 'rgb',
};
/** Pixel formats whose pixels are R, G, B (no matrix). */
const RGB_FORMAT = /^(gbr|rgb|bgr|argb|abgr|0rgb|0bgr)/;
/** Primaries and transfer to tag an output matrix with where the source declares none. */
const TAGS_OF: Record<ColourPlan['to']['matrix'], { primaries: string; transfer: string }> = {
  bt709: { primaries: 'bt709', transfer: 'bt709' },
  bt601: { primaries: 'smpte170m', transfer: 'smpte170m' },
  bt2020: { primaries: 'bt2020', transfer: 'bt2020-10' },
};

/**
 * A transcode's colour, decided in one place: the source's pixels are read with the matrix and
 * range it declares — undeclared, the convention for its size (BT.709 for HD, above 576 lines or
 * from 1280 wide; BT.601 below); RGB sources have none — and made into limited-range YCbCr of the
 * same matrix (an RGB source: its size's), tagged with that matrix and the source's primaries and
 * transfer (or the matrix's usual ones). Untagged or converted with the wrong coefficients, a
 * player shows wrong colours (BT.709 read as BT.601: 24 dB against 38 dB, measured).
 */
export function planColour(video: VideoStream): ColourPlan {
  const hd = video.height > 576 || video.width >= 1280;
  const rgb = video.matrix === 'gbr' || RGB_FORMAT.test(video.pixelFormat ?? '');
  const declared = video.matrix ? MATRIX_OF[video.matrix] : undefined;
  const matrix: SourceMatrix = rgb ? 'rgb' : (declared ?? (hd ? 'bt709' : 'bt601'));
  const range = video.range === 'pc' || /^yuvj/.test(video.pixelFormat ?? '') ? 'pc' : 'tv';
  const to = matrix === 'rgb' ? (hd ? 'bt709' : 'bt601') : matrix;
  const usual = TAGS_OF[to];
  return {
    from: { matrix, range },
    to: { matrix: to, primaries: video.primaries ?? usual.primaries, transfer: video.transfer ?? usual.transfer },
  };
}

/** One line for a person: what is done to the picture and the sound, and why. */
export function describePlan(plan: EncodingPlan): string {
  const reasons = plan.reasons ?? [];
  if (plan.video === 'copy') return reasons.join('; ');
  if (plan.video === 'none') return reasons.join('; ') || 'audio only';
  const target = plan.video === 'h264-360p' ? 'H.264 360p' : 'H.264';
  return `transcoding to ${target}${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}`;
}

/**
 * Bytes of finished segments that may wait in scratch space before ffmpeg is paused: well inside
 * Lambda's ephemeral storage, and enough that a caller as fast as ffmpeg on average never stops it.
 */
export const DEFAULT_SCRATCH_PENDING_BYTES = 256 * 1024 * 1024;

/**
 * Each ffprobe and ffmpeg process's memory (data segment) in MiB, where nothing says otherwise: a
 * 1080p transcode needs about 400, a probe 16. In Lambda the default is the function's memory less
 * what Node and the step keep (`mediaMemoryFor`), so a tool fails with a named error instead of the
 * function being killed out of memory.
 */
export const DEFAULT_MEDIA_MEMORY_MB = 4096;
/** What a Lambda function keeps for Node, the step and its buffers beside the tool. */
const NODE_MEMORY_MB = 256;

export function mediaMemoryFor(functionMemoryMb: number | undefined): number {
  if (functionMemoryMb === undefined || !Number.isFinite(functionMemoryMb) || functionMemoryMb <= 0) return DEFAULT_MEDIA_MEMORY_MB;
  return Math.max(128, functionMemoryMb - NODE_MEMORY_MB);
}

/** One line for a person: how long ffmpeg ran, and how much of it it waited for segments to be stored. */
export function describeFfmpegRun({ seconds, pausedSeconds }: { seconds: number; pausedSeconds: number }): string {
  const share = seconds > 0 ? Math.round((pausedSeconds / seconds) * 100) : 0;
  const ran = seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`;
  return `ffmpeg ${ran}${pausedSeconds >= 0.05 ? `, ${share} % of it waiting for segments to be stored` : ''}`;
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
  /** Seconds the iteration's CreateFunction requests may take at CREATE_FUNCTION_BUDGET's figures (unset: no bound). */
  maxSeconds?: number;
}

/** At one package per 10-second segment, 8,640 segments (24 h) make 1,080 iterations, ~7,600 events. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxPackages: 8, maxBytes: 400 * 1024 * 1024 };

/**
 * What a CreateFunction of a package may take in AWS, pessimistically, to size a batch within
 * PackageBatch's timeout. AWS publishes no figures: after a create the function is Pending and
 * becomes Active when Lambda has provisioned it, "in most cases ... very fast" (AWS Compute Blog,
 * "Tracking the state of Lambda functions"). So: the request's body (the zip base64-encoded in
 * JSON, ~70 MB at the direct limit; the zip itself when it is staged in S3 first) sent at 10 MB/s,
 * 3 s for Lambda to answer, and one wait of up to 30 s for the batch's packages to be Active
 * (they are created one after another and waited for together). The rehearsal's slow profile
 * (test/rehearsal/support/lambda.ts) is within these figures.
 */
export const CREATE_FUNCTION_BUDGET = { bytesPerSecond: 10_000_000, requestSeconds: 3, activeSeconds: 30 } as const;

/** Seconds one package's CreateFunction (and its staging upload) is budgeted. */
export function createSeconds(zipBytes: number): number {
  const sent = zipBytes <= DIRECT_UPLOAD_BYTES ? Math.ceil(zipBytes / 3) * 4 + CREATE_FUNCTION_REQUEST_OVERHEAD : zipBytes;
  return sent / CREATE_FUNCTION_BUDGET.bytesPerSecond + CREATE_FUNCTION_BUDGET.requestSeconds;
}

/**
 * Batch limits for a PackageBatch of this timeout: its creates, at the budget's figures, take at
 * most half of it less the wait for Active (the rest is for reading the segments and retrying
 * throttled calls). Unset timeout (locally): the defaults.
 */
export function batchLimitsFor(timeoutSeconds: number | undefined): BatchLimits {
  if (timeoutSeconds === undefined) return DEFAULT_BATCH_LIMITS;
  return { ...DEFAULT_BATCH_LIMITS, maxSeconds: timeoutSeconds / 2 - CREATE_FUNCTION_BUDGET.activeSeconds };
}

export function planBatches(packages: readonly PackagePlan[], limits = DEFAULT_BATCH_LIMITS): BatchPlan[] {
  const batches: BatchPlan[] = [];
  let current: BatchPlan | undefined;
  let seconds = 0;
  for (const pkg of packages) {
    const cost = createSeconds(pkg.bytes);
    const overTime = limits.maxSeconds !== undefined && seconds + cost > limits.maxSeconds;
    if (!current || current.packageCount >= limits.maxPackages || current.bytes + pkg.bytes > limits.maxBytes || overTime) {
      current = { batch: batches.length, firstPackage: pkg.package, packageCount: 0, bytes: 0 };
      batches.push(current);
      seconds = 0;
    }
    current.packageCount++;
    current.bytes += pkg.bytes;
    seconds += cost;
  }
  return batches;
}
