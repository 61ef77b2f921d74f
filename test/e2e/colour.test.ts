// A transcode's colour, judged by what a decoder we did not write (Debian's ffmpeg) makes of the
// served bytes: decoded to RGB as the output's tags say (untagged, as BT.601: what players assume),
// it must be as close to the true picture (the test pattern's own RGB) as the source decoded as it
// declares (undeclared, by the convention for its size) and made 4:2:0 8-bit, within 2.5 dB. BT.709
// read as BT.601 is ~27 dB where the right reading is ~34 (measured on this pattern): a wrong matrix
// or a missing tag fails by far; what the encoding costs (~1 dB here) does not.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliIn } from '../support/cli';
import { ffmpeg } from '../support/fixtures';
import { playedStream } from '../support/independent-playlist';
import { psnr, readingOf, SCALE_MATRIX, type Tags, tagsOf, decoderScratch } from '../support/outside-checks';

const RATE = 10;
const SECONDS = 2;

const scratch = decoderScratch('colour', 'the colour check');

/** The source's pixels made from the pattern's RGB with a matrix and range, in a pixel format. */
const made = (matrix: string, range: 'tv' | 'full', format = 'yuv420p') =>
  `scale=out_color_matrix=${matrix}:out_range=${range},format=${format}`;
const HEVC = ['-c:v', 'libx265'];
const TAGGED_709 = ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709'];
const OUT_709: Tags = { matrix: 'bt709', range: 'tv', primaries: 'bt709', transfer: 'bt709' };
const OUT_601: Tags = { matrix: 'smpte170m', range: 'tv', primaries: 'smpte170m', transfer: 'smpte170m' };
const READ_709 = { matrix: 'bt709', range: 'tv' };
const READ_601 = { matrix: 'bt601', range: 'tv' };

// [case, size, how the source's pixels are made, encoder and its tags, the source's matrix as it
//  declares it or its size's convention, the output's expected tags]
const CASES: [string, string, string, string[], { matrix: string; range: string }, Tags][] = [
  ['HD HEVC tagged BT.709', '1280x720', made('bt709', 'tv'), [...HEVC, ...TAGGED_709], READ_709, OUT_709],
  ['HD HEVC untagged (BT.709 by its size)', '1280x720', made('bt709', 'tv'), HEVC, READ_709, OUT_709],
  ['SD HEVC untagged (BT.601 by its size)', '320x240', made('bt601', 'tv'), HEVC, READ_601, OUT_601],
  ['SD HEVC tagged BT.709', '320x240', made('bt709', 'tv'), [...HEVC, ...TAGGED_709], READ_709, OUT_709],
  [
    'SD HEVC full range',
    '320x240',
    made('bt601', 'full'),
    [...HEVC, '-color_range', 'pc', '-colorspace', 'smpte170m'],
    { matrix: 'bt601', range: 'pc' },
    { matrix: 'smpte170m', range: 'tv' },
  ],
  ['HD H.264 RGB (gbrp)', '1280x720', 'format=gbrp', ['-c:v', 'libx264rgb', '-crf', '18'], { matrix: 'rgb', range: 'tv' }, OUT_709],
  [
    'HD H.264 4:2:2 10-bit tagged BT.709',
    '1280x720',
    made('bt709', 'tv', 'yuv422p10le'),
    ['-c:v', 'libx264', ...TAGGED_709],
    READ_709,
    OUT_709,
  ],
];

describe("a transcode's colour", () => {
  it.each(CASES)(
    '%s: tagged with what it is, and as close to the true picture as the source',
    async (name, size, make, encoder, declared, expected) => {
      const source = join(scratch.dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.mp4`);
      ffmpeg([
        ...['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${RATE}:duration=${SECONDS}`, '-vf', make],
        ...encoder,
        ...(encoder.includes('libx265') ? ['-preset', 'ultrafast', '-x265-params', 'log-level=none'] : ['-preset', 'veryfast']),
        source,
      ]);
      const result = JSON.parse(cliIn(scratch.home, ['convert', source, '--json']).stdout) as {
        status: string;
        videoId: string;
        encoding: string;
      };
      expect(result).toMatchObject({ status: 'SUCCEEDED', encoding: expect.stringMatching(/^transcoding to H\.264/) });
      const stream = join(scratch.dir, `${result.videoId}.ts`);
      writeFileSync(stream, playedStream(scratch.home, result.videoId));
      const tags = await tagsOf(stream);
      expect({ name, tags }).toEqual({ name, tags: expect.objectContaining(expected) });
      // Decoded as a player reads it: by its tags, untagged as BT.601 limited range.
      const truth = `testsrc2=size=${size}:rate=${RATE}:duration=${SECONDS}`;
      const output = await psnr(stream, truth, readingOf(tags));
      // The source decoded as it declares, made 4:2:0 8-bit in its own matrix: the best an H.264 rendition can give.
      const sourceMatrix = declared.matrix === 'rgb' ? SCALE_MATRIX[expected.matrix!]! : declared.matrix;
      const reference = await psnr(source, truth, { matrix: sourceMatrix, range: declared.range }, true);
      expect({ name, output: Math.round(output * 10) / 10, asGoodAsTheSource: output >= reference - 2.5 }).toEqual({
        name,
        output: expect.any(Number),
        asGoodAsTheSource: true,
      });
    },
    120_000,
  );
});
