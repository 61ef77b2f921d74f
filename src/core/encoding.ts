// What SegmentMedia does to each stream, and why. Pure: decided from the probe and the options
// only. H.264 is copied only when every HLS player can decode it as it is and copying keeps what
// the source shows; anything else is encoded, upright, trimmed as the source plays, even-sized
// and SDR.
import type { ColourPlan, EncodingPlan, HdrTransfer, Job, RungPlan, SourceMatrix, VideoStream } from './model';
import { describeLadder, planLadder } from './ladder';
import { renditionNamed } from './renditions';

/** H.264 profiles HLS players decode (Apple's HLS authoring spec; hardware decoders). */
const PLAYABLE_H264_PROFILES = new Set(['Constrained Baseline', 'Baseline', 'Main', 'High']);
/** 8-bit 4:2:0 (yuvj420p is the same with full-range levels). */
const PLAYABLE_PIXEL_FORMATS = new Set(['yuv420p', 'yuvj420p']);
/** Level 5.2: 4K at 60 fps, the highest the HLS authoring spec lists for H.264. */
const MAX_H264_LEVEL = 52;
const HDR_TRANSFERS: Record<string, HdrTransfer> = { 'arib-std-b67': 'hlg', smpte2084: 'pq' };

/** An HDR picture's transfer (HLG or PQ), which SDR output tone-maps; undefined for SDR. */
export function hdrTransferOf(video: VideoStream): HdrTransfer | undefined {
  return video.transfer ? HDR_TRANSFERS[video.transfer] : undefined;
}
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
  const hdr = hdrTransferOf(video);
  const toneMap = hdr ? { toneMap: hdr } : {};
  const { undecodable, corrected } = reasonsToEncode(video, hdr, trimmed);
  // Tone mapping makes its own BT.709 (toneMapFilters); every other transcode keeps its colour right here.
  const colour = hdr ? {} : { colour: planColour(video) };
  const rendition = renditionNamed(options.profile);
  if (!rendition.copiesPlayableSource) {
    return {
      video: 'encode',
      rendition: rendition.name,
      audio: media.audio ? 'aac' : 'none',
      ...toneMap,
      ...colour,
      reasons: [`--profile ${rendition.name}`, ...corrected],
      warnings,
    };
  }
  // Copied AAC would keep what an edit list trims: then it is encoded too, starting where the picture does.
  // Only AAC-LC and HE-AAC are copied: browsers' MSE decode those, not AAC Main, LTP or SSR.
  const playable = media.audio !== undefined && playableAudio(media.audio);
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
  const [width, height] = video.rotation === 90 || video.rotation === 270 ? [video.height, video.width] : [video.width, video.height];
  if (encode.length > 0 && (width % 2 || height % 2))
    encode.push(`odd frame size ${width}x${height}: scaled to ${width - (width % 2)}x${height - (height % 2)}`);
  const copied = ['H.264', video.profile, video.level !== undefined ? level(video.level) : undefined].filter(Boolean).join(' ');
  const ladder =
    options.ladder !== undefined && options.ladder !== 'source'
      ? planLadderEncoding(video, options.ladder, {
          audio,
          copies: encode.length === 0 ? copied : undefined,
          stream: { ...toneMap, ...colour, warnings },
          reasons: [...encode, ...audioReason],
        })
      : undefined;
  if (ladder) return ladder;
  if (encode.length === 0) return { video: 'copy', audio, reasons: [`copying ${copied}`, ...audioReason], warnings };
  return { video: 'encode', rendition: rendition.name, audio, ...toneMap, ...colour, reasons: [...encode, ...audioReason], warnings };
}

/**
 * A ladder's plan: every rung encoded, or — when every player decodes the source as it is — the
 * source copied as the top rung and only the rungs below it encoded (cut where the copy is cut).
 * With heights asked for, the copy is the top rung only where one of them is the source's own.
 */
function planLadderEncoding(
  video: VideoStream,
  option: 'auto' | number[],
  how: {
    audio: EncodingPlan['audio'];
    /** What the source is, when every player decodes it as it is ("H.264 High 4.0"). */
    copies: string | undefined;
    stream: Pick<EncodingPlan, 'toneMap' | 'colour' | 'warnings'>;
    /** Why the picture is encoded (none for a copy), and what is done to the sound. */
    reasons: string[];
  },
): EncodingPlan | undefined {
  const asked = option === 'auto' ? '--ladder auto' : `--ladder ${option.join(',')}`;
  const short = Math.min(video.width, video.height);
  const copies = how.copies !== undefined && (option === 'auto' || option.includes(short));
  const below = copies ? planLadder(video, option).filter((r) => Math.min(r.width, r.height) < short) : planLadder(video, option);
  // No rung below a copyable source (it is as small as the cellular rung): it is copied, one rendition.
  if (copies && below.length === 0) return undefined;
  const rungs: RungPlan[] = copies ? [copiedRung(video), ...below] : below;
  const reasons = copies
    ? [`copying ${how.copies} as its ${rungs[0]!.name} rung`, `${asked}: encoding ${describeLadder(below)}`, ...how.reasons]
    : [...how.reasons, `${asked}: ${describeLadder(rungs)}`];
  return { video: 'ladder', rungs, audio: how.audio, ...how.stream, reasons };
}

/** The source as a ladder's top rung, copied: its own size and bit rate (where the file says). */
function copiedRung(video: VideoStream): RungPlan {
  const kbps = Math.max(1, Math.round((video.bitRate ?? 0) / 1000));
  const profile = video.profile === 'High' ? 'high' : video.profile === 'Main' ? 'main' : 'baseline';
  const name = `${Math.min(video.width, video.height)}p`;
  return { name, width: video.width, height: video.height, kbps, maxKbps: kbps, bufferKbps: kbps, profile, audio: 'shared', copy: true };
}

/** AAC profiles (ffprobe's names) every HLS player decodes, MSE in browsers included. */
const PLAYABLE_AAC = new Set(['LC', 'HE-AAC', 'HE-AACv2']);

function playableAudio(audio: NonNullable<Job['media']['audio']>): boolean {
  return audio.codec === 'aac' && (audio.profile === undefined || PLAYABLE_AAC.has(audio.profile));
}

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
  // A ladder: its top rung copied ("copying H.264 High 4.0 as its 1080p rung; --ladder auto: encoding …"), or every rung encoded.
  if (plan.video === 'ladder') return plan.rungs[0]?.copy ? reasons.join('; ') : `transcoding to H.264: ${reasons.join('; ')}`;
  const target = renditionNamed(plan.rendition).label;
  return `transcoding to ${target}${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}`;
}
