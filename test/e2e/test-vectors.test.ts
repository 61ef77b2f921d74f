// The shapes of public codec test vectors (the codec / pixel format / colour / size / rotation /
// HDR matrix a browser media engineer publishes, and the GOP structures broadcast encoders make),
// made small by an encoder we did not write (Debian's ffmpeg), each converted and held by Debian's
// decoder to what a viewer relies on: it converts; every frame of the source plays, no decoding
// error; the colour is tagged with what it is and as close to the true picture as the source;
// the sound is whole; every segment decodes on its own (EXT-X-INDEPENDENT-SEGMENTS), from its
// first byte; the segments are one transport stream (continuity counters).
import { spawnSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliIn } from '../support/cli';
import { rotateMp4 } from '../support/fixtures';
import { playedSegments } from '../support/independent-playlist';
import { PLAYER } from '../support/player';
import {
  continuityFailures,
  DECODER,
  decoded,
  lines,
  psnr,
  readingOf,
  segmentsAlone,
  soundIsWhole,
  type Tags,
  tagsOf,
  decoderScratch,
} from '../support/outside-checks';

const RATE = 10;
const SECONDS = 6;
const SOUND_RATE = 48_000;
/** 2-s segments: 3 of them, each to decode alone; a transcode in one chunk, as a short clip is (seams: ./chunked-transcode.test.ts). */
const CONVERT = ['--segment-seconds', '2'];

const scratch = decoderScratch('vectors', 'the test-vector check');

interface Vector {
  name: string;
  size: string;
  /** Filters that make the source's pixels from the pattern's RGB. */
  make: string;
  /** The encoder and its options (Debian's ffmpeg). */
  video: string[];
  audio?: string[];
  /** Degrees a player turns the picture (the display matrix). */
  rotate?: 90;
  /** The matrix and range the source's pixels were made with (`rgb`: none); none for HDR. */
  declared?: { matrix: string; range: string };
  /** The output's colour tags; HDR has no pattern to compare with after tone mapping, only its tags. */
  tags: Tags;
  /** The true picture the output shows, where it is not the pattern at the source's size (lavfi filters after it). */
  shown?: string;
  copied: boolean;
}

const made = (matrix: string, range: 'tv' | 'full', format = 'yuv420p') =>
  `scale=out_color_matrix=${matrix}:out_range=${range},format=${format}`;
const GOP = ['-g', String(RATE), '-keyint_min', String(RATE), '-sc_threshold', '0'];
const X264 = (params: string) => ['-c:v', 'libx264', '-preset', 'veryfast', ...GOP, '-x264-params', params];
const X265 = ['-c:v', 'libx265', '-preset', 'ultrafast', ...GOP, '-x265-params', 'log-level=none'];
const T709 = ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709'];
const T601 = ['-colorspace', 'smpte170m', '-color_primaries', 'smpte170m', '-color_trc', 'smpte170m'];
const OUT_709: Tags = { matrix: 'bt709', range: 'tv', primaries: 'bt709', transfer: 'bt709' };
const OUT_601: Tags = { matrix: 'smpte170m', range: 'tv', primaries: 'smpte170m', transfer: 'smpte170m' };
const SD_601 = { matrix: 'bt601', range: 'tv' };
const HD_709 = { matrix: 'bt709', range: 'tv' };

const VECTORS: Vector[] = [
  {
    name: 'H.264 High, closed GOP, B-pyramid',
    size: '320x240',
    make: made('bt601', 'tv'),
    video: [...X264('bframes=3:b-pyramid=strict:open-gop=0'), ...T601],
    declared: SD_601,
    tags: OUT_601,
    copied: true,
  },
  {
    name: 'H.264 High, open GOP (recovery-point I-frames)',
    size: '320x240',
    make: made('bt601', 'tv'),
    video: [...X264('bframes=3:b-pyramid=normal:open-gop=1'), ...T601],
    declared: SD_601,
    tags: OUT_601,
    copied: false,
  },
  {
    name: 'H.264 Baseline, untagged SD',
    size: '320x240',
    make: made('bt601', 'tv'),
    video: ['-profile:v', 'baseline', ...X264('bframes=0')],
    declared: SD_601,
    tags: {},
    copied: true,
  },
  {
    name: 'H.264 High 10, BT.709 HD',
    size: '1280x720',
    make: made('bt709', 'tv', 'yuv420p10le'),
    video: [...X264('bframes=3'), ...T709],
    declared: HD_709,
    tags: OUT_709,
    copied: false,
  },
  {
    name: 'H.264 High 4:4:4, untagged SD',
    size: '320x240',
    make: made('bt601', 'tv', 'yuv444p'),
    video: X264('bframes=3'),
    declared: SD_601,
    tags: OUT_601,
    copied: false,
  },
  {
    name: 'H.264 RGB (gbrp)',
    size: '320x240',
    make: 'format=gbrp',
    video: ['-c:v', 'libx264rgb', '-crf', '18', '-preset', 'veryfast', ...GOP],
    declared: { matrix: 'rgb', range: 'pc' },
    tags: OUT_601,
    copied: false,
  },
  {
    name: 'H.264 full range (a camera’s yuvj420p), BT.601',
    size: '320x240',
    make: made('bt601', 'full', 'yuvj420p'),
    video: [...X264('bframes=3'), '-color_range', 'pc', ...T601],
    declared: { matrix: 'bt601', range: 'pc' },
    // Copied, full range tagged in the stream (the VUI's video_full_range_flag), which players read.
    tags: { matrix: 'smpte170m', range: 'pc' },
    copied: true,
  },
  {
    name: 'H.264 rotated 90° (a portrait phone clip)',
    size: '320x240',
    make: made('bt601', 'tv'),
    video: X264('bframes=3'),
    rotate: 90,
    declared: SD_601,
    tags: OUT_601,
    shown: 'transpose=clock',
    copied: false,
  },
  {
    name: 'HEVC Main, BT.709 HD',
    size: '1280x720',
    make: made('bt709', 'tv'),
    video: [...X265, ...T709],
    declared: HD_709,
    tags: OUT_709,
    copied: false,
  },
  {
    name: 'HEVC Main 10, HLG BT.2020 (tone-mapped)',
    size: '320x240',
    make: made('bt2020', 'tv', 'yuv420p10le'),
    video: [...X265, '-colorspace', 'bt2020nc', '-color_primaries', 'bt2020', '-color_trc', 'arib-std-b67'],
    tags: OUT_709,
    copied: false,
  },
  {
    name: 'VP9 profile 0, BT.709 HD',
    size: '1280x720',
    make: made('bt709', 'tv'),
    video: ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '1M', ...GOP, ...T709],
    declared: HD_709,
    tags: OUT_709,
    copied: false,
  },
  {
    name: 'AV1, untagged SD',
    size: '320x240',
    make: made('bt601', 'tv'),
    video: ['-c:v', 'libaom-av1', '-cpu-used', '8', '-usage', 'realtime', '-b:v', '500k', ...GOP],
    declared: SD_601,
    tags: OUT_601,
    copied: false,
  },
  {
    name: 'MPEG-4 Part 2, odd size 321x241, MP3 sound',
    size: '321x241',
    make: made('bt601', 'tv'),
    video: ['-c:v', 'mpeg4', '-q:v', '3', '-g', String(RATE)],
    audio: ['-c:a', 'libmp3lame', '-b:a', '96k'],
    declared: SD_601,
    tags: OUT_601,
    shown: 'scale=320:240',
    copied: false,
  },
  {
    name: 'H.264 with AAC Main sound',
    size: '320x240',
    make: made('bt601', 'tv'),
    video: X264('bframes=3'),
    audio: ['-c:a', 'aac', '-profile:a', 'aac_main', '-b:a', '96k'],
    declared: SD_601,
    tags: {},
    copied: true,
  },
  {
    name: 'HEVC with 5.1 AC-3 sound',
    size: '320x240',
    make: made('bt601', 'tv'),
    video: X265,
    audio: ['-c:a', 'ac3', '-ac', '6', '-b:a', '384k'],
    declared: SD_601,
    tags: OUT_601,
    copied: false,
  },
];

/**
 * Decoded as a player reads it (by its tags, untagged as BT.601), the output is as close to the true
 * picture as the source decoded as it declares (turned as its display matrix says) and made 4:2:0
 * 8-bit in its own matrix (an RGB source: in the output's), the best an H.264 rendition can give —
 * within 2.5 dB (./colour.test.ts: a wrong matrix or a missing tag costs ~7). HDR has no true picture
 * after tone mapping: its tags are its check.
 */
async function colourCheck(vector: Vector, source: string, stream: string, tags: Tags) {
  if (!vector.declared) return { output: 0, reference: 0, close: true };
  const truth = `testsrc2=size=${vector.size}:rate=${RATE}:duration=${SECONDS}`;
  const shown = vector.shown ? `${truth},${vector.shown}` : truth;
  const output = await psnr(stream, shown, readingOf(tags));
  const reading = vector.declared.matrix === 'rgb' ? readingOf(tags) : vector.declared;
  const reference = await psnr(source, vector.rotate ? shown : truth, reading, true);
  return { output: Math.round(output * 10) / 10, reference: Math.round(reference * 10) / 10, close: output >= reference - 2.5 };
}

function encode(vector: Vector, path: string): void {
  const result = spawnSync(
    DECODER,
    [
      ...['-hide_banner', '-v', 'error', '-y'],
      ...['-f', 'lavfi', '-i', `testsrc2=size=${vector.size}:rate=${RATE}:duration=${SECONDS}`],
      ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${SOUND_RATE}:duration=${SECONDS}`],
      ...['-vf', vector.make, ...vector.video],
      ...(vector.audio ?? ['-c:a', 'aac', '-b:a', '96k']),
      path,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`Debian's ffmpeg could not make ${vector.name}: ${result.stderr}`);
  if (vector.rotate) rotateMp4(path, vector.rotate);
}

describe('public test vectors’ shapes, judged by a decoder we did not write', () => {
  it.each(VECTORS.map((v) => [v.name, v] as const))(
    '%s',
    async (name, vector) => {
      const source = join(scratch.dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.mp4`);
      encode(vector, source);
      const convert = cliIn(scratch.home, ['convert', source, ...CONVERT, '--json']);
      const result = JSON.parse(convert.stdout) as { status: string; videoId: string; encoding: string };
      expect(result.status).toBe('SUCCEEDED');
      const segments = playedSegments(scratch.home, result.videoId);
      const stream = join(scratch.dir, `${result.videoId}.ts`);
      writeFileSync(stream, Buffer.concat(segments));
      const [played, original] = await Promise.all([decoded(stream), decoded(source)]);
      expect(original).toEqual({ frames: RATE * SECONDS, errors: [] });
      const alone = await segmentsAlone(segments, scratch.dir);
      const tags = await tagsOf(stream);
      // Every check at once, so a failure shows all that is wrong with a vector.
      const report = {
        name,
        copied: result.encoding.startsWith('copying'),
        // Every frame of the source, with no decoding error.
        frames: played.frames,
        errors: played.errors,
        // Every segment from its first byte, alone: all its frames, no error.
        segments: alone.length,
        errorsAlone: alone.flatMap((s) => s.errors).slice(0, 3),
        framesAlone: alone.reduce((sum, s) => sum + s.frames, 0),
        continuityErrors: (await continuityFailures(stream)).length,
        sound: await soundIsWhole(stream, source, SOUND_RATE),
        // What browsers' MSE decode: AAC-LC (copied or made here).
        soundCodec: (
          await lines(PLAYER, [
            ...['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=codec_name,profile'],
            ...['-of', 'csv=p=0', stream],
          ])
        )[0],
        tags,
        colour: await colourCheck(vector, source, stream, tags),
      };
      // VECTOR_REPORT=<file>: each vector's measurements as a JSON line, to compare two versions' output.
      if (process.env.VECTOR_REPORT)
        appendFileSync(process.env.VECTOR_REPORT, `${JSON.stringify({ ...report, encoding: result.encoding })}\n`);
      expect(report).toEqual({
        name,
        copied: vector.copied,
        frames: original.frames,
        errors: [],
        segments: SECONDS / 2,
        errorsAlone: [],
        framesAlone: original.frames,
        continuityErrors: 0,
        sound: { extra: expect.any(Number), whole: true },
        soundCodec: 'aac,LC',
        tags: expect.objectContaining(vector.tags),
        colour: { output: expect.any(Number), reference: expect.any(Number), close: true },
      });
    },
    180_000,
  );
});
