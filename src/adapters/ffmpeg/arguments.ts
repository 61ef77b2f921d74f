// The ffmpeg arguments of each run, from the plan: the one input a run may read (its demuxer and
// protocol), the picture's and the sound's encoding, and the segment muxer's output — for a run
// that segments a whole input, a transcode's chunk, and a transcode's audio.
import { join } from 'node:path';
import type { ColourPlan, EncodingPlan, HdrTransfer, RungPlan } from '../../core/model';
import type { MediaFormat } from '../../core/naming';
import { DEFAULT_AUDIO_KBPS, LADDER_AUDIO_KBPS, type Rendition, renditionNamed } from '../../core/renditions';
import type { AudioSplitRequest, ChunkRequest, SegmentRequest, Timeline } from '../../ports';
import { hasLowAudio, LOW_AUDIO } from '../../core/ladder';
import { needsLoopback } from './loopback';
import { DEFAULT_LIMITS, type MediaLimits } from './process';

export const LABELS: Record<MediaFormat, string> = { mp4: 'MP4', mp3: 'MP3' };
/**
 * Demuxer options per format; for MP4 the mov demuxer, whose external data references stay off.
 * MPEG-TS is only ever our own: a chunk's audio, encoded by SegmentMedia.
 */
const DEMUXERS: Record<MediaFormat | 'mpegts', string[]> = {
  mp4: ['-f', 'mov', '-enable_drefs', '0'],
  mp3: ['-f', 'mp3'],
  mpegts: ['-f', 'mpegts'],
};

/**
 * Input options that keep ffmpeg and ffprobe to the one input they are given: the demuxer of its
 * format, and no protocol but its own — `file` for a path, `http` (over `tcp`) for the relay.
 * `options` are the input's own (a seek, a timestamp offset), placed before it.
 */
export function inputArgs(
  location: string,
  format: MediaFormat | 'mpegts',
  limits: MediaLimits = DEFAULT_LIMITS,
  options: string[] = [],
): string[] {
  const url = needsLoopback(location); // by now the relay's URL
  return [
    '-protocol_whitelist',
    url ? 'http,tcp' : 'file',
    ...(url ? ['-rw_timeout', String(limits.networkMs * 1000)] : []),
    ...DEMUXERS[format],
    ...options,
    '-i',
    url ? location : asFfmpegInput(location),
  ];
}

/** ffmpeg reads "a:b.mp4" as protocol "a"; a file: prefix keeps local paths paths. */
export function asFfmpegInput(location: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) ? location : `file:${location}`;
}

/**
 * HDR to SDR: to linear light (100 nits nominal peak), BT.2020 to BT.709 primaries, Hable's curve,
 * then BT.709's transfer and matrix in limited range — zimg (`zscale`) and `tonemap`, which the
 * layer's ffmpeg has.
 */
export function toneMapFilters(transfer: HdrTransfer | undefined): string[] {
  if (!transfer) return [];
  const input = transfer === 'hlg' ? 'arib-std-b67' : 'smpte2084';
  return [
    `zscale=tin=${input}:pin=bt2020:min=bt2020nc:t=linear:npl=100`,
    'format=gbrpf32le',
    'zscale=p=bt709',
    'tonemap=tonemap=hable:desat=0',
    'zscale=t=bt709:m=bt709:r=tv',
  ];
}

/** Arguments every run starts with; -progress: ffmpeg's position, read for the progress line and the stall watchdog. */
const COMMON = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-progress', 'pipe:1', '-y'];

/** The scale filter's colour conversion: from the source's matrix and range to the output's limited-range YCbCr. */
function colourScale(colour: ColourPlan | undefined): string {
  if (!colour) return '';
  const from = colour.from.matrix === 'rgb' ? '' : `:in_color_matrix=${colour.from.matrix}`;
  return `${from}:out_color_matrix=${colour.to.matrix}:in_range=${colour.from.range}:out_range=tv`;
}

/** The output's colour in the H.264 stream (VUI), what a player reads it as: BT.709 after tone mapping, else the plan's. */
function colourTags(plan: EncodingPlan): string[] {
  const to: ColourPlan['to'] | undefined = plan.toneMap ? { matrix: 'bt709', primaries: 'bt709', transfer: 'bt709' } : plan.colour?.to;
  if (!to) return [];
  const space = { bt709: 'bt709', bt601: 'smpte170m', bt2020: 'bt2020nc' }[to.matrix];
  return ['-color_primaries', to.primaries, '-color_trc', to.transfer, '-colorspace', space, '-color_range', 'tv'];
}

/**
 * The picture's encoding, as the plan says. `filters` go first (a chunk's trim); ffmpeg turns a
 * rotated picture upright and starts where an edit list starts by itself when it decodes.
 */
function videoArgs(plan: EncodingPlan, keyframes: string[], filters: string[] = []): string[] {
  switch (plan.video) {
    case 'copy':
      // SPS and PPS before every keyframe, not only before IDRs (what the Annex B conversion alone
      // does): a segment starting at a keyframe that is no IDR still has its parameter sets.
      // ValidateInput transcodes open GOPs it sees; this keeps one it could not see to a few frames.
      return ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb,dump_extra=freq=keyframe'];
    case 'none':
      return ['-vn'];
    case 'encode':
      return encodeArgs(renditionNamed(plan.rendition), plan, keyframes, filters);
    case 'ladder':
      // Only its copied top rung is made in one run; the rest by ladderChunkArgs, one output per rung.
      if (!plan.rungs[0]?.copy) throw new Error('a ladder is encoded by ladderChunkArgs, one output per rung');
      return videoArgs({ ...plan, video: 'copy', rungs: undefined }, keyframes, filters);
  }
}

/** The picture encoded as its rendition says (./renditions.ts): its size, rate, profile and level. */
function encodeArgs(rendition: Rendition, plan: EncodingPlan, keyframes: string[], filters: string[]): string[] {
  const { size, rate } = rendition;
  // The conversion to 4:2:0 happens in the scale, with the plan's matrices (not a default one later); 4:2:0 needs even sizes.
  const scale =
    size.fit === 'source'
      ? [`scale=trunc(iw/2)*2:trunc(ih/2)*2${colourScale(plan.colour)}`, 'format=yuv420p']
      : [
          `scale=${size.width}:${size.height}:force_original_aspect_ratio=decrease${colourScale(plan.colour)}`,
          'format=yuv420p',
          `pad=${size.width}:${size.height}:(ow-iw)/2:(oh-ih)/2`,
          'setsar=1',
        ];
  return [
    '-vf',
    [...filters, ...toneMapFilters(plan.toneMap), ...scale].join(','),
    '-c:v',
    'libx264',
    ...(rendition.profile ? ['-profile:v', rendition.profile] : []),
    ...(rendition.level ? ['-level', rendition.level] : []),
    '-preset',
    'veryfast',
    ...('crf' in rate
      ? ['-crf', String(rate.crf)]
      : ['-b:v', `${rate.kbps}k`, '-maxrate', `${rate.maxKbps}k`, '-bufsize', `${rate.bufferKbps}k`]),
    '-pix_fmt',
    'yuv420p',
    ...colourTags(plan),
    ...keyframes,
  ];
}

function audioArgs(plan: EncodingPlan): string[] {
  switch (plan.audio) {
    case 'copy':
      return ['-c:a', 'copy'];
    case 'aac':
      return aacArgs(
        plan.video === 'encode'
          ? renditionNamed(plan.rendition).audioKbps
          : plan.video === 'ladder'
            ? LADDER_AUDIO_KBPS.shared
            : DEFAULT_AUDIO_KBPS,
      );
    case 'none':
      return ['-an'];
  }
}

function aacArgs(kbps: number): string[] {
  return ['-c:a', 'aac', '-b:a', `${kbps}k`, '-ac', '2'];
}

/**
 * No cut at all: the segment muxer's own default is a cut every 2 s (its `segment_time`), which
 * split a one-chunk transcode's audio and kept only the first piece (0.85 s of a 5 s clip).
 */
const NO_CUTS = ['-segment_time', '1000000000'];

function segmentOutput(outDir: string, cuts: string[]): string[] {
  return [
    '-sn',
    '-dn',
    '-f',
    'segment',
    // One MPEG-TS muxer for the whole run (PAT/PMT still start every segment), so the continuity
    // counters go on from one segment to the next instead of starting at 0 in each (Apple 7.2).
    '-individual_header_trailer',
    '0',
    ...cuts,
    '-segment_format',
    'mpegts',
    '-segment_list',
    join(outDir, 'segments.csv'),
    '-segment_list_type',
    'csv',
    join(outDir, '%05d.ts'),
  ];
}

/**
 * ffmpeg arguments that turn `input` into MPEG-TS segments in one run: a copied picture (cut at its
 * own keyframes) or sound alone. An encoded picture is made in chunks (chunkArgs), never so.
 */
export function segmentArgs(request: SegmentRequest, limits: MediaLimits = DEFAULT_LIMITS): string[] {
  const { plan, segmentSeconds, outDir } = request;
  if (plan.video === 'encode') throw new Error('an encoded picture is made in chunks (chunkArgs), not in one run');
  // A ladder's copied top rung keeps its timestamps on the encoded rungs' timeline (timeline()).
  const onTimeline = request.timeline ? ['-copyts'] : [];
  return [
    ...COMMON,
    ...onTimeline,
    ...inputArgs(request.input, request.format, limits, request.timeline ? timeline(request.timeline) : []),
    ...(plan.video !== 'none' ? ['-map', '0:v:0'] : []),
    ...(plan.audio !== 'none' ? ['-map', '0:a:0'] : []),
    ...videoArgs(plan, []),
    ...audioArgs(plan),
    // No mux delay: the stream's timestamps are the segment list's timeline, so a segment's own
    // first presentation time (firstStart) reads on it directly. A ladder's copied top rung keeps the
    // muxer's delay, as its encoded rungs do (ladderChunkArgs): their timestamps then agree, and the
    // muxer gathers audio frames into PES packets of several (one per frame cost the cellular rung
    // 22 kbit/s of its 48).
    ...(request.timeline ? [] : ['-muxdelay', '0', '-muxpreload', '0']),
    ...segmentOutput(outDir, request.timeline ? timelineCuts(request, request.timeline) : ['-segment_time', String(segmentSeconds)]),
  ];
}

/**
 * A copy on a ladder's timeline is cut every segmentSeconds from the timeline's start (its offset),
 * as the encoded rungs' chunks are: `-segment_time` counts from timestamp 0, a second early.
 */
function timelineCuts(request: Pick<SegmentRequest, 'segmentSeconds' | 'durationSeconds'>, timeline: Timeline): string[] {
  const cuts: string[] = [];
  for (let at = request.segmentSeconds; at < request.durationSeconds - 1e-6; at += request.segmentSeconds)
    cuts.push(time(timeline.timeOffset + at));
  return cuts.length > 0 ? ['-segment_times', cuts.join(',')] : NO_CUTS;
}

/** Apple HLS authoring 1.13: an IDR frame at least every 2 s, for seeking and (with a ladder) switching. */
export const KEYFRAME_SECONDS = 2;

/**
 * Where a chunk forces keyframes: at every segment boundary (each segment starts with an IDR) and
 * every KEYFRAME_SECONDS from there, so none is more than 2 s from the one before.
 */
export function keyframeTimes(start: number, seconds: number, segmentSeconds: number): number[] {
  const times: number[] = [];
  for (let segment = 0; segment * segmentSeconds < seconds; segment++) {
    const from = segment * segmentSeconds;
    const to = Math.min(seconds, from + segmentSeconds);
    for (let at = from; at < to - 1e-9; at += KEYFRAME_SECONDS) times.push(start + at);
  }
  return times;
}

/** Seconds as ffmpeg reads them, exactly (no exponent, no rounding beyond microseconds). */
function time(seconds: number): string {
  return String(Math.round(seconds * 1e6) / 1e6);
}

/**
 * Chunk and audio runs keep the input's timestamps (-copyts) and move them onto the output's
 * timeline themselves: output = source − its start + the timeline offset, as every chunk does.
 */
function timeline(request: Timeline): string[] {
  return ['-itsoffset', time(request.timeOffset - request.sourceStart)];
}

/**
 * One chunk of a transcode: the frames of [start, end) on the output's timeline, no more and no
 * fewer, keyframes forced at its segment boundaries (as listed times, which ffmpeg compares with
 * the frames' own timestamps), cut into segments at the same times, with the chunk's audio (encoded
 * once by SegmentMedia) copied beside it. The input is opened at the keyframe before `start`
 * (a seek: over HTTP, a ranged read), decoded from there, and trimmed exactly.
 */
export function chunkArgs(request: ChunkRequest, limits: MediaLimits = DEFAULT_LIMITS): string[] {
  if (request.plan.video === 'ladder') return ladderChunkArgs(request, request.plan.rungs, limits);
  const { plan } = request;
  const { start, end, boundaries, keyframes } = chunkTimes(request);
  const seek = request.start > 0 ? ['-ss', time(request.start)] : [];
  return [
    ...COMMON,
    '-copyts',
    ...inputArgs(request.input, request.format, limits, ['-noaccurate_seek', ...seek, ...timeline(request)]),
    ...(request.audio ? inputArgs(request.audio, 'mpegts', limits) : []),
    '-map',
    '0:v:0',
    ...(request.audio ? ['-map', '1:a:0', '-c:a', 'copy'] : ['-an']),
    // Every frame of the source once, at its own time: no frame rate imposed.
    '-vsync',
    'vfr',
    ...videoArgs(
      plan,
      ['-force_key_frames', keyframes.join(',')],
      [`trim=start=${time(start)}${end === undefined ? '' : `:end=${time(end)}`}`],
    ),
    ...segmentOutput(request.outDir, [
      ...(boundaries.length > 1 ? ['-segment_times', boundaries.slice(1).join(',')] : NO_CUTS),
      '-segment_start_number',
      String(request.firstSegment),
    ]),
  ];
}

/** The folder a ladder's rung (or a sound) writes its segments and list in, inside the run's. */
export function outputDir(outDir: string, name: string): string {
  return join(outDir, name);
}

/**
 * The MPEG-TS muxer repeats PAT and PMT every 0.1 s by default: 30 kbit/s, a sixth of the cellular
 * rung (Apple 9.21: at most 192 kbit/s in all). It also writes them before every video keyframe,
 * which is all a picture's segments (each starts with one) and its I-frames (every 2 s) need; so
 * a rung repeats them only at its keyframes, and the SDT every 2 s.
 */
const SPARSE_TABLES = ['-segment_format_options', `pat_period=${KEYFRAME_SECONDS + 1}:sdt_period=${KEYFRAME_SECONDS}`];

/** Where a chunk starts and ends on the output's timeline, its boundaries and its forced keyframes. */
function chunkTimes(request: ChunkRequest) {
  const { segmentSeconds, timeOffset } = request;
  const start = request.start + timeOffset;
  const end = request.end === undefined ? undefined : request.end + timeOffset;
  if (request.cuts) {
    // Cut where a copied rung is: a keyframe at each cut, and every KEYFRAME_SECONDS up to the next.
    const cuts = request.cuts.map((c) => c + timeOffset);
    const keyframes = cuts.flatMap((cut, i) => {
      const next = cuts[i + 1] ?? end ?? cut + segmentSeconds;
      return keyframeTimes(cut, next - cut, next - cut);
    });
    return { start, end, boundaries: cuts.map(time), keyframes: keyframes.map(time) };
  }
  const boundaries = Array.from({ length: request.segmentCount }, (_, i) => time(start + i * segmentSeconds));
  const keyframes = keyframeTimes(start, request.segmentCount * segmentSeconds, segmentSeconds).map(time);
  return { start, end, boundaries, keyframes };
}

/**
 * One chunk of a ladder: decoded once, trimmed as chunkArgs trims, split, and each copy scaled and
 * encoded as its rung says into a segment muxer of its own (outputDir(outDir, rung.name)), every
 * rung with keyframes forced and cut at the same times — so rungs switch at any boundary. The
 * shared sound (and the cellular rung's own) is copied into each rung from splitAudio's parts.
 */
export function ladderChunkArgs(request: ChunkRequest, ladder: readonly RungPlan[], limits: MediaLimits = DEFAULT_LIMITS): string[] {
  const { plan } = request;
  const { start, end, boundaries, keyframes } = chunkTimes(request);
  const seek = request.start > 0 ? ['-ss', time(request.start)] : [];
  const inputs = [request.audio, request.lowAudio];
  // A copied top rung is made by the copy's own run (segmentArgs), not here.
  const rungs = ladder.filter((r) => !r.copy);
  if (rungs.length === 0) throw new Error('a ladder chunk needs a rung to encode');
  const audioInput = (rung: RungPlan): number | undefined => {
    const wanted = rung.audio === 'low' && request.lowAudio ? request.lowAudio : request.audio;
    return wanted === undefined ? undefined : 1 + inputs.filter((a) => a !== undefined).indexOf(wanted);
  };
  const head = [`trim=start=${time(start)}${end === undefined ? '' : `:end=${time(end)}`}`, ...toneMapFilters(plan.toneMap)];
  const graph = [
    `[0:v:0]${[...head, `split=${rungs.length}`].join(',')}${rungs.map((_, i) => `[s${i}]`).join('')}`,
    ...rungs.map((rung, i) => `[s${i}]scale=${rung.width}:${rung.height}${colourScale(plan.colour)},format=yuv420p,setsar=1[v${i}]`),
  ].join(';');
  return [
    ...COMMON,
    '-copyts',
    ...inputArgs(request.input, request.format, limits, ['-noaccurate_seek', ...seek, ...timeline(request)]),
    ...inputs.flatMap((audio) => (audio ? inputArgs(audio, 'mpegts', limits) : [])),
    '-filter_complex',
    graph,
    // Every frame of the source once, at its own time: no frame rate imposed.
    '-vsync',
    'vfr',
    ...rungs.flatMap((rung, i) => {
      const audio = audioInput(rung);
      return [
        '-map',
        `[v${i}]`,
        ...(audio !== undefined ? ['-map', `${audio}:a:0`, '-c:a', 'copy'] : ['-an']),
        '-c:v',
        'libx264',
        '-profile:v',
        rung.profile,
        '-preset',
        'veryfast',
        '-b:v',
        `${rung.kbps}k`,
        '-maxrate',
        `${rung.maxKbps}k`,
        '-bufsize',
        `${rung.bufferKbps}k`,
        '-pix_fmt',
        'yuv420p',
        ...colourTags(plan),
        '-force_key_frames',
        keyframes.join(','),
        ...segmentOutput(outputDir(request.outDir, rung.name), [
          ...(boundaries.length > 1 ? ['-segment_times', boundaries.slice(1).join(',')] : NO_CUTS),
          '-segment_start_number',
          String(request.firstSegment),
          ...SPARSE_TABLES,
        ]),
      ];
    }),
  ];
}

/**
 * The audio track encoded (or copied) once for every chunk of a transcode, cut at the chunks'
 * starts into one MPEG-TS file each. Audio packets are cut whole, so each chunk gets exactly its
 * own run of one continuous encoding: no priming or gap at a chunk's edge. No mux delay: its
 * timestamps are the output's timeline itself.
 */
export function audioSplitArgs(request: AudioSplitRequest, limits: MediaLimits = DEFAULT_LIMITS): string[] {
  const cuts = request.cuts.map((cut) => time(cut + request.timeOffset));
  const output = (codec: string[], dir: string) => [
    '-map',
    '0:a:0',
    '-vn',
    ...codec,
    '-muxdelay',
    '0',
    '-muxpreload',
    '0',
    ...segmentOutput(dir, cuts.length > 0 ? ['-segment_times', cuts.join(',')] : NO_CUTS),
  ];
  return [
    ...COMMON,
    '-copyts',
    ...inputArgs(request.input, request.format, limits, timeline(request)),
    ...output(audioArgs(request.plan), request.outDir),
    // A ladder's cellular rung gets its own sound at a low rate, from the same decode.
    ...(hasLowAudio(request.plan) ? output(aacArgs(LADDER_AUDIO_KBPS.low), outputDir(request.outDir, LOW_AUDIO)) : []),
  ];
}
