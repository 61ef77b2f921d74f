import fc from 'fast-check';
import { audioSplitArgs, chunkArgs, KEYFRAME_SECONDS, keyframeTimes, segmentArgs } from '../../src/adapters/ffmpeg/arguments';
import { hasLeadingPictures, parseProbe } from '../../src/adapters/ffmpeg/probe';
import { ffmpegCause, keepTail, parseSegmentList } from '../../src/adapters/ffmpeg/process';
import { describeContent } from '../../src/core/content';
import {
  batchLimitsFor,
  CREATE_FUNCTION_BUDGET,
  createSeconds,
  DEFAULT_BATCH_LIMITS,
  DIRECT_UPLOAD_BYTES,
  planBatches,
  planPackages,
  segmentEntryName,
} from '../../src/core/packing';
import { describeFfmpegRun } from '../../src/core/media-limits';
import { describePlan, planColour, planEncoding } from '../../src/core/encoding';
import { layoutStoredZip, storedEntryOverhead } from '../../src/core/zip';
import type { Job } from '../../src/core/model';

const video = { codec: 'h264', width: 1920, height: 1080 };
const audio = { codec: 'aac', channels: 2, sampleRate: 48000 };
function job(kind: 'video' | 'audio', media: Job['media'], profile: 'source' | '360p' = 'source') {
  return {
    source: { key: 'x', bytes: 1, extension: kind === 'video' ? '.mp4' : '.mp3', kind },
    media,
    options: { segmentSeconds: 10, profile },
  };
}

describe('encoding plan', () => {
  const hd = { ...video, profile: 'High', level: 40, pixelFormat: 'yuv420p', frameRate: 30, frames: 300 };
  const mp4 = (v: Partial<typeof hd> & Record<string, unknown>, extra: Partial<Job['media']> = {}) =>
    planEncoding(job('video', { formatName: 'mov,mp4', durationSeconds: 10, video: { ...hd, ...v }, audio, ...extra }));

  it('copies 8-bit 4:2:0 H.264 of a playable profile and level, and AAC, saying so', () => {
    expect(mp4({})).toEqual({ video: 'copy', audio: 'copy', reasons: ['copying H.264 High 4.0'], warnings: [] });
  });
  it('transcodes other video codecs and other audio codecs', () => {
    expect(
      planEncoding(
        job('video', { formatName: 'mp4', durationSeconds: 1, video: { ...video, codec: 'hevc' }, audio: { ...audio, codec: 'mp3' } }),
      ),
    ).toEqual({
      video: 'encode',
      rendition: 'source',
      audio: 'aac',
      colour: expect.any(Object),
      reasons: ['the source is HEVC', 'audio: MP3 to AAC'],
      warnings: [],
    });
  });
  it.each([
    [{ profile: 'High 10', pixelFormat: 'yuv420p10le' }, 'H.264 High 10 is not widely playable'],
    [{ profile: 'High 4:4:4 Predictive', pixelFormat: 'yuv444p' }, 'H.264 High 4:4:4 Predictive is not widely playable'],
    [{ profile: 'High', pixelFormat: 'yuv422p' }, 'H.264 in yuv422p is not widely playable'],
    [{ level: 62 }, 'H.264 level 6.2 is above 5.2'],
    [{ openGop: true }, "open GOPs (a copy's segments would not decode alone)"],
    [{ rotation: 90 }, 'rotated 90°: turned upright'],
    [{ transfer: 'arib-std-b67' }, 'HDR (HLG): tone-mapped to SDR BT.709'],
    [{ transfer: 'smpte2084' }, 'HDR (PQ): tone-mapped to SDR BT.709'],
  ])('transcodes H.264 that players cannot show as the source does: %j', (v, reason) => {
    expect(mp4(v)).toMatchObject({ video: 'encode', rendition: 'source', audio: 'copy', reasons: [reason] });
  });
  it('tone-maps HDR of any codec, and says which transfer', () => {
    expect(mp4({ codec: 'hevc', profile: 'Main 10', transfer: 'arib-std-b67' })).toMatchObject({
      video: 'encode',
      rendition: 'source',
      toneMap: 'hlg',
    });
    expect(mp4({ transfer: 'smpte2084' }, {}).toneMap).toBe('pq');
    expect(mp4({}).toneMap).toBeUndefined();
  });
  it('transcodes both streams when an edit list trims what a copy would bring back (600 frames held, 525 played)', () => {
    const plan = planEncoding(
      job('video', { formatName: 'mov,mp4', durationSeconds: 17.5, video: { ...hd, frames: 600, frameRate: 30 }, audio }),
    );
    expect(plan).toMatchObject({
      video: 'encode',
      rendition: 'source',
      audio: 'aac',
      reasons: ['an edit list trims 2.5 s that a copy would bring back', 'audio re-encoded to the trim'],
    });
    // A frame's worth is rounding, not a trim.
    expect(mp4({ frames: 301 }).video).toBe('copy');
  });
  it('scales an odd frame size to even, as shown after rotation', () => {
    expect(mp4({ codec: 'mpeg4', width: 321, height: 181 }).reasons).toContain('odd frame size 321x181: scaled to 320x180');
    expect(mp4({ width: 1080, height: 1921, rotation: 90 }).reasons).toContain('odd frame size 1921x1080: scaled to 1920x1080');
  });
  it('warns that only the first of several audio tracks is kept', () => {
    expect(mp4({}, { audioTracks: 2 }).warnings).toEqual(['only the first of 2 audio tracks is kept']);
  });
  it('transcodes H.264 it could copy when asked to (--transcode), saying why', () => {
    const plan = planEncoding({
      ...job('video', { formatName: 'mov,mp4', durationSeconds: 10, video: hd, audio }),
      options: { segmentSeconds: 10, profile: 'source', transcode: true },
    });
    expect(plan).toMatchObject({ video: 'encode', rendition: 'source', audio: 'copy', reasons: ['--transcode: segments cut where asked'] });
  });
  it('always transcodes for the 360p profile, still turning and tone-mapping', () => {
    expect(planEncoding(job('video', { formatName: 'mp4', durationSeconds: 1, video, audio }, '360p'))).toEqual({
      video: 'encode',
      rendition: '360p',
      audio: 'aac',
      colour: { from: { matrix: 'bt709', range: 'tv' }, to: { matrix: 'bt709', primaries: 'bt709', transfer: 'bt709' } },
      reasons: ['--profile 360p'],
      warnings: [],
    });
    expect(
      planEncoding(
        job('video', { formatName: 'mp4', durationSeconds: 10, video: { ...hd, rotation: 270, transfer: 'arib-std-b67' }, audio }, '360p'),
      ),
    ).toMatchObject({
      toneMap: 'hlg',
      reasons: ['--profile 360p', 'rotated 270°: turned upright', 'HDR (HLG): tone-mapped to SDR BT.709'],
    });
  });
  it.each([
    // [source, what its pixels are read as, what the output is made and tagged as]
    ['untagged HD YUV', { width: 1920, height: 1080 }, ['bt709', 'tv'], ['bt709', 'bt709', 'bt709']],
    ['untagged SD YUV', { width: 640, height: 480 }, ['bt601', 'tv'], ['bt601', 'smpte170m', 'smpte170m']],
    ['untagged 1280x534 (HD by width)', { width: 1280, height: 534 }, ['bt709', 'tv'], ['bt709', 'bt709', 'bt709']],
    [
      'BT.709-tagged SD',
      { width: 640, height: 480, matrix: 'bt709', primaries: 'bt709', transfer: 'bt709' },
      ['bt709', 'tv'],
      ['bt709', 'bt709', 'bt709'],
    ],
    [
      'BT.601-tagged HD (PAL)',
      { width: 1920, height: 1080, matrix: 'bt470bg', primaries: 'bt470bg', transfer: 'gamma28' },
      ['bt601', 'tv'],
      ['bt601', 'bt470bg', 'gamma28'],
    ],
    ['full-range (yuvj420p)', { width: 1280, height: 720, pixelFormat: 'yuvj420p' }, ['bt709', 'pc'], ['bt709', 'bt709', 'bt709']],
    ['full range declared', { width: 640, height: 360, range: 'pc' }, ['bt601', 'pc'], ['bt601', 'smpte170m', 'smpte170m']],
    ['RGB HD (gbrp)', { width: 1920, height: 1080, pixelFormat: 'gbrp', matrix: 'gbr' }, ['rgb', 'tv'], ['bt709', 'bt709', 'bt709']],
    ['RGB SD (rgb24)', { width: 320, height: 240, pixelFormat: 'rgb24' }, ['rgb', 'tv'], ['bt601', 'smpte170m', 'smpte170m']],
    [
      'SDR BT.2020',
      { width: 3840, height: 2160, matrix: 'bt2020nc', primaries: 'bt2020', transfer: 'bt2020-10' },
      ['bt2020', 'tv'],
      ['bt2020', 'bt2020', 'bt2020-10'],
    ],
  ] as const)('reads %s with the matrix it declares or its size convention, and tags the output with what it is', (_, stream, from, to) => {
    const colour = planColour({ codec: 'hevc', ...stream });
    expect([colour.from.matrix, colour.from.range]).toEqual(from);
    expect([colour.to.matrix, colour.to.primaries, colour.to.transfer]).toEqual(to);
  });
  it('copies AAC-LC and HE-AAC, and re-encodes AAC Main and LTP, which browsers do not decode', () => {
    const hd = { ...video, profile: 'High', level: 40, pixelFormat: 'yuv420p', frameRate: 30, frames: 300 };
    const withAudio = (profile?: string) =>
      planEncoding(job('video', { formatName: 'mp4', durationSeconds: 10, video: hd, audio: { ...audio, ...(profile && { profile }) } }));
    for (const profile of [undefined, 'LC', 'HE-AAC', 'HE-AACv2'])
      expect(withAudio(profile)).toMatchObject({ video: 'copy', audio: 'copy' });
    expect(withAudio('Main')).toMatchObject({
      video: 'copy',
      audio: 'aac',
      reasons: expect.arrayContaining([expect.stringContaining('AAC Main to AAC-LC')]),
    });
    expect(withAudio('LTP')).toMatchObject({ video: 'copy', audio: 'aac' });
  });
  it('turns an mp3 into audio-only AAC, ignoring cover art', () => {
    expect(planEncoding(job('audio', { formatName: 'mp3', durationSeconds: 1, audio: { ...audio, codec: 'mp3' } }))).toMatchObject({
      video: 'none',
      audio: 'aac',
      reasons: ['audio only: MP3 to AAC'],
    });
  });
  it('handles video without audio', () => {
    expect(planEncoding(job('video', { formatName: 'mp4', durationSeconds: 1, video }))).toMatchObject({ video: 'copy', audio: 'none' });
  });
  it('says it in one line', () => {
    expect(describePlan(mp4({}))).toBe('copying H.264 High 4.0');
    expect(describePlan(mp4({ rotation: 90, codec: 'hevc' }))).toBe(
      'transcoding to H.264: the source is HEVC; rotated 90°: turned upright',
    );
  });
});

describe('open GOPs, read from the packets ffprobe lists (pts,dts,flags)', () => {
  // x264 with 3 B-frames, a keyframe every 4 frames (timebase 1/15360, 512 a frame), as ffprobe lists it.
  const closed = ['0,-1024,K__', '1536,-512,___', '512,0,___', '1024,512,___', '2048,1024,K__', '3584,1536,___', '2560,2048,___'];
  it('finds none where every frame after a keyframe in decoding order shows after it (an IDR, a closed GOP)', () => {
    expect(hasLeadingPictures(closed.join('\n'))).toBe(false);
  });
  it('finds leading pictures: B-frames after a keyframe that show before it, which reference the GOP before', () => {
    const open = ['0,-1024,K__', '1536,-512,___', '512,0,___', '1024,512,___', '3584,1024,K__', '2560,1536,___', '2048,2048,___'];
    expect(hasLeadingPictures(`${open.join('\n')}\n`)).toBe(true);
  });
  it('does not count what is never shown (packets an edit list discards), nor rows without a time', () => {
    expect(hasLeadingPictures(['3584,1024,K__', '2560,1536,__D', 'N/A,2048,___', ''].join('\n'))).toBe(false);
  });
});

describe('ffmpeg arguments', () => {
  const base = { input: '/scratch/a:b.mp4', format: 'mp4', segmentSeconds: 6, outDir: '/out', durationSeconds: 60 } as const;
  it('keep a local path from being read as a protocol, and allow no other', () => {
    const args = segmentArgs({ ...base, plan: { video: 'copy', audio: 'copy' } }).join(' ');
    expect(args).toContain('-protocol_whitelist file -f mov -enable_drefs 0 -i file:/scratch/a:b.mp4');
  });
  it('read a URL (always the relay on 127.0.0.1) over http alone, with a network timeout', () => {
    const args = segmentArgs({ ...base, input: 'http://127.0.0.1:4567/x.mp4', plan: { video: 'copy', audio: 'copy' } }).join(' ');
    expect(args).toContain('-protocol_whitelist http,tcp -rw_timeout 20000000 -f mov -enable_drefs 0 -i http://127.0.0.1:4567/x.mp4');
  });
  it('read an .mp3 with the mp3 demuxer, never one guessed from the bytes', () => {
    expect(segmentArgs({ ...base, format: 'mp3', plan: { video: 'none', audio: 'copy' } }).join(' ')).toContain('-f mp3 -i file:');
  });
  it('report progress on stdout', () => {
    expect(segmentArgs({ ...base, plan: { video: 'copy', audio: 'copy' } }).join(' ')).toContain('-progress pipe:1');
  });
  it('cut MPEG-TS segments of the asked length with a CSV list', () => {
    const args = segmentArgs({ ...base, plan: { video: 'copy', audio: 'copy' } }).join(' ');
    // One muxer for the run: continuity counters go on across segments (Apple HLS authoring 7.2).
    expect(args).toContain('-f segment -individual_header_trailer 0 -segment_time 6 -segment_format mpegts');
    expect(args).toContain('-segment_list /out/segments.csv -segment_list_type csv');
  });
  it('never encode a picture in one run: a transcode is made in chunks', () => {
    expect(() => segmentArgs({ ...base, plan: { video: 'encode', rendition: 'source', audio: 'aac' } })).toThrow(/chunks/);
  });
  it('make the 360p rendition of its row: baseline 3.0, 640x360 letterboxed, 800 kbit/s, keyframes at the boundaries, sound at 96 kbit/s', () => {
    const plan = { video: 'encode', rendition: '360p', audio: 'aac' } as const;
    const timeline = { timeOffset: 0, sourceStart: 0 };
    const chunk = chunkArgs({ ...base, ...timeline, plan, start: 12, end: 24, firstSegment: 2, segmentCount: 2, audio: '/a.ts' }).join(' ');
    expect(chunk).toContain('scale=640:360:force_original_aspect_ratio=decrease');
    expect(chunk).toContain('pad=640:360:(ow-iw)/2:(oh-ih)/2');
    expect(chunk).toContain('-profile:v baseline -level 3.0');
    expect(chunk).toContain('-b:v 800k -maxrate 856k -bufsize 1200k');
    expect(chunk).toContain('-force_key_frames 12,14,16,18,20,22');
    expect(chunk).toContain('-segment_times 18');
    const audio = audioSplitArgs({ ...base, ...timeline, plan, cuts: [12] }).join(' ');
    expect(audio).toContain('-c:a aac -b:a 96k -ac 2');
  });
  it('make the source rendition at its own size (even) at constant quality, its sound at 128 kbit/s', () => {
    const plan = { video: 'encode', rendition: 'source', audio: 'aac' } as const;
    const timeline = { timeOffset: 0, sourceStart: 0 };
    const chunk = chunkArgs({ ...base, ...timeline, plan, start: 0, firstSegment: 0, segmentCount: 1 }).join(' ');
    expect(chunk).toContain('scale=trunc(iw/2)*2:trunc(ih/2)*2');
    expect(chunk).toContain('-crf 23');
    expect(chunk).not.toContain('-profile:v');
    expect(audioSplitArgs({ ...base, ...timeline, plan, cuts: [] }).join(' ')).toContain('-c:a aac -b:a 128k -ac 2');
  });
  it('drop video for audio-only output', () => {
    const args = segmentArgs({ ...base, plan: { video: 'none', audio: 'aac' } });
    expect(args).toContain('-vn');
    expect(args).not.toContain('0:v:0');
  });
});

describe('what a file that cannot be read looks like, for the message', () => {
  it.each([
    ['an MP4', Buffer.from('\0\0\0\x20ftypisom\0\0\x02\0', 'latin1'), 'an MP4 file', 'mp4'],
    ['an MP3 with tags', Buffer.from('ID3\x04\0\0\0\0\0\0', 'latin1'), 'MP3 audio', 'mp3'],
    ['an MP3 frame', Buffer.from([0xff, 0xfb, 0x90, 0x64]), 'MP3 audio', 'mp3'],
    ['a WAV', Buffer.from('RIFF\x24\0\0\0WAVEfmt ', 'latin1'), 'WAV audio', undefined],
    ['a DASH manifest', Buffer.from('<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">'), 'a DASH manifest', undefined],
    ['an HLS playlist', Buffer.from('#EXTM3U\n#EXTINF:10,\nhttp://x/a.ts\n'), 'an HLS playlist', undefined],
    ['a text file', Buffer.from('la la la\n'), 'a text file', undefined],
  ])('%s', (_, head, description, format) => {
    const guess = describeContent(head);
    expect(guess?.description).toMatch(new RegExp(`^${description}`));
    expect(guess?.format).toBe(format);
  });
  it('says nothing of bytes it does not know', () => {
    expect(describeContent(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))).toBeUndefined();
  });
});

describe("ffmpeg's cause", () => {
  it('is the line that says why, not the summary after it', () => {
    const stderr = [
      '[libx264 @ 0x55d1c2a0] width not divisible by 2 (321x181)',
      'Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate, rate, width or height',
      'Conversion failed!',
    ].join('\n');
    expect(ffmpegCause(stderr)).toBe('width not divisible by 2 (321x181)');
    expect(ffmpegCause('Conversion failed!\n')).toBe('Conversion failed!');
  });

  it('keeps whole lines of a long error output, so a cause is never a fragment cut mid-word', () => {
    const chatter = Array.from({ length: 400 }, (_, i) => `[h264 @ 0x55d0] error while decoding MB ${i} 7`).join('\n');
    let tail = '';
    for (const piece of `${chatter}\nInvalid data found when processing input\n`.match(/[\s\S]{1,333}/g)!)
      tail = keepTail(tail, piece, 2048);
    expect(tail.length).toBeLessThanOrEqual(2048);
    expect(tail).toMatch(/^\[h264 @ 0x55d0\] error while decoding MB \d+ 7\n/);
    expect(ffmpegCause(tail)).toBe(`error while decoding MB ${tail.match(/MB (\d+)/)![1]} 7`);
    expect(keepTail('abc\n', 'def', 3)).toBe('def');
  });
});

describe('ffprobe output', () => {
  it('does not count cover art as video', () => {
    const probe = parseProbe(
      JSON.stringify({
        format: { format_name: 'mp3', duration: '12.04' },
        streams: [
          { codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '44100' },
          { codec_type: 'video', codec_name: 'mjpeg', disposition: { attached_pic: 1 } },
        ],
      }),
    );
    expect(probe.video).toBeUndefined();
    expect(probe.audio).toEqual({ codec: 'mp3', channels: 2, sampleRate: 44100 });
    expect(probe.durationSeconds).toBeCloseTo(12.04);
  });
  it('reads the frame rate', () => {
    const probe = parseProbe(
      JSON.stringify({
        format: { format_name: 'mov,mp4', duration: '2' },
        streams: [{ codec_type: 'video', codec_name: 'h264', width: 4, height: 4, avg_frame_rate: '30000/1001' }],
      }),
    );
    expect(probe.video?.frameRate).toBeCloseTo(29.97, 2);
  });
  it('reads what the plan decides by: profile, level, pixels, rotation (either way ffprobe says it), colour, frames, audio tracks', () => {
    const stream = {
      codec_type: 'video',
      codec_name: 'hevc',
      width: 1920,
      height: 1080,
      profile: 'Main 10',
      level: 150,
      pix_fmt: 'yuv420p10le',
      color_transfer: 'arib-std-b67',
      color_primaries: 'bt2020',
      color_space: 'bt2020nc',
      nb_frames: '600',
      side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }],
    };
    const probe = parseProbe(
      JSON.stringify({
        format: { format_name: 'mov,mp4', duration: '20' },
        streams: [stream, { codec_type: 'audio', codec_name: 'aac' }, { codec_type: 'audio', codec_name: 'aac' }],
      }),
    );
    expect(probe).toMatchObject({
      audioTracks: 2,
      video: {
        profile: 'Main 10',
        level: 150,
        pixelFormat: 'yuv420p10le',
        rotation: 90,
        transfer: 'arib-std-b67',
        primaries: 'bt2020',
        matrix: 'bt2020nc',
        frames: 600,
      },
    });
    const rotated = (extra: object) =>
      parseProbe(JSON.stringify({ format: { format_name: 'mp4' }, streams: [{ codec_type: 'video', ...extra }] })).video?.rotation;
    expect(rotated({ side_data_list: [{ rotation: 90 }] })).toBe(270);
    expect(rotated({ side_data_list: [{ rotation: 180 }] })).toBe(180);
    expect(rotated({ tags: { rotate: '90' } })).toBe(90);
    expect(rotated({})).toBeUndefined();
  });
});

describe('segment list', () => {
  it('gives each segment its start and end as ffmpeg measured them', () => {
    expect(parseSegmentList('00000.ts,0.000000,10.080000\n00001.ts,10.080000,20.080000\n')).toEqual([
      { file: '00000.ts', start: 0, end: 10.08 },
      { file: '00001.ts', start: 10.08, end: 20.08 },
    ]);
  });
});

describe('packing segments into packages, and packages into batches', () => {
  const segments = (sizes: number[]) => sizes.map((bytes, index) => ({ index, bytes }));
  const overhead = storedEntryOverhead(segmentEntryName(0));

  it('fills each package with consecutive segments up to the byte bound, the zip included', () => {
    const plan = planPackages(segments([400, 400, 400, 400, 400]), { maxBytes: 22 + 2 * (400 + overhead), maxEntries: 1000 });
    expect(plan.map((p) => [p.first, p.count])).toEqual([
      [0, 2],
      [2, 2],
      [4, 1],
    ]);
    expect(plan[0]!.bytes).toBe(22 + 2 * (400 + overhead)); // exactly what layoutStoredZip makes
    const zip = layoutStoredZip([0, 1].map((i) => ({ name: segmentEntryName(i), size: 400, crc32: 0 })));
    expect(zip.size).toBe(plan[0]!.bytes);
  });

  it('caps the entries per package, and gives a segment over the bound a package of its own', () => {
    expect(planPackages(segments([1, 1, 1, 1, 1]), { maxBytes: 1e9, maxEntries: 2 }).map((p) => p.count)).toEqual([2, 2, 1]);
    const plan = planPackages(segments([10, 5000, 10]), { maxBytes: 1000, maxEntries: 1000 });
    expect(plan.map((p) => [p.first, p.count])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
  });

  it('packs by default up to the 50 MB a direct CreateFunction takes', () => {
    const tenMb = segments(Array.from({ length: 12 }, () => 10 * 1024 * 1024));
    const plan = planPackages(tenMb);
    expect(plan.map((p) => p.count)).toEqual([4, 4, 4]);
    expect(Math.max(...plan.map((p) => p.bytes))).toBeLessThanOrEqual(DIRECT_UPLOAD_BYTES);
  });

  it('groups packages into batches by count and bytes', () => {
    const packages = planPackages(segments(Array.from({ length: 20 }, () => 100)), { maxBytes: 1, maxEntries: 1 });
    expect(planBatches(packages, { maxPackages: 8, maxBytes: 1e9 }).map((b) => b.packageCount)).toEqual([8, 8, 4]);
    expect(planBatches(packages, { maxPackages: 100, maxBytes: 3 * packages[0]!.bytes }).map((b) => b.packageCount)).toEqual([
      3, 3, 3, 3, 3, 3, 2,
    ]);
  });
});

describe("a transcode's keyframes", () => {
  it('come at every segment boundary and every 2 s between (Apple HLS authoring 1.13), never further apart', () => {
    expect(keyframeTimes(10, 12, 6)).toEqual([10, 12, 14, 16, 18, 20]);
    // 5-s segments: each starts with a keyframe, and one 2 s and 4 s into it.
    expect(keyframeTimes(0, 10, 5)).toEqual([0, 2, 4, 5, 7, 9]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 20 }), (segmentSeconds, segments) => {
        const times = keyframeTimes(1, segments * segmentSeconds, segmentSeconds);
        for (let i = 0; i < segments; i++) expect(times).toContain(1 + i * segmentSeconds);
        for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThanOrEqual(KEYFRAME_SECONDS + 1e-9);
      }),
    );
  });
});

describe('batches within PackageBatch’s timeout', () => {
  const direct = (n: number) => Array.from({ length: n }, (_, i) => ({ package: i, first: i, count: 1, bytes: DIRECT_UPLOAD_BYTES }));

  it("budgets each CreateFunction by its request's upload and answer, and one wait for Active per batch", () => {
    // The largest direct zip travels as ~70 MB of base64 JSON: 7 s at 10 MB/s, plus 3 s to answer.
    expect(createSeconds(DIRECT_UPLOAD_BYTES)).toBeCloseTo(69_905_066 / CREATE_FUNCTION_BUDGET.bytesPerSecond + 3, 0);
    // One staged in S3 first uploads the zip itself (no base64).
    expect(createSeconds(250_000_000)).toBeCloseTo(25 + 3, 5);
  });

  it('keeps 8 full packages in a batch of the deployed 300 s, fewer when the timeout is shorter, never a batch over half of it', () => {
    expect(planBatches(direct(20), batchLimitsFor(300)).map((b) => b.packageCount)).toEqual([8, 8, 4]);
    expect(planBatches(direct(7), batchLimitsFor(120)).map((b) => b.packageCount)).toEqual([3, 3, 1]);
    // Unset locally: count and bytes only.
    expect(batchLimitsFor(undefined)).toEqual(DEFAULT_BATCH_LIMITS);
    fc.assert(
      fc.property(
        fc.integer({ min: 61, max: 900 }),
        fc.array(fc.integer({ min: 1, max: 250_000_000 }), { minLength: 1, maxLength: 40 }),
        (timeout, sizes) => {
          const packages = sizes.map((bytes, i) => ({ package: i, first: i, count: 1, bytes }));
          for (const batch of planBatches(packages, batchLimitsFor(timeout))) {
            const seconds = packages
              .slice(batch.firstPackage, batch.firstPackage + batch.packageCount)
              .reduce((t, p) => t + createSeconds(p.bytes), 0);
            if (batch.packageCount > 1) expect(seconds + CREATE_FUNCTION_BUDGET.activeSeconds).toBeLessThanOrEqual(timeout / 2);
          }
        },
      ),
    );
  });
});

describe("ffmpeg's run, in words", () => {
  it('says how long it ran, and how much of it it waited for storage when that was noticeable', () => {
    expect(describeFfmpegRun({ seconds: 0.04, pausedSeconds: 0 })).toBe('ffmpeg 40 ms');
    expect(describeFfmpegRun({ seconds: 12.34, pausedSeconds: 0.01 })).toBe('ffmpeg 12.3 s');
    expect(describeFfmpegRun({ seconds: 10, pausedSeconds: 2.5 })).toBe('ffmpeg 10.0 s, 25 % of it waiting for segments to be stored');
  });
});
