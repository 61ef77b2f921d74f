// A transcode split into chunks, judged by what an independent player (Debian's ffmpeg and ffprobe)
// decodes from the stream a viewer gets: every frame of the source once, the sound continuous
// across the chunks' seams, and picture and sound together at each seam. The source carries a
// white flash on the first frame of every second, a beep starting with it on the right channel
// and a steady 440 Hz tone on the left.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliIn } from '../support/cli';
import { ffmpeg, TRANSCODE_STATES } from '../support/fixtures';
import { playedStream, servedPlaylist } from '../support/independent-playlist';
import { continuityFailures, DECODER, lines, run, soundIsWhole, decoderScratch } from '../support/outside-checks';
import { PLAYER } from '../support/player';

const FPS = 30;
const RATE = 48_000;

const scratch = decoderScratch('chunks', 'the player check');

/** 30 s at 30 fps with a 2-s GOP (so chunks start between the source's keyframes), AAC stereo. */
function syncClip(path: string): string {
  ffmpeg([
    ...[
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=640x360:rate=${FPS},drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(mod(n\\,${FPS})\\,0)'`,
    ],
    ...['-f', 'lavfi', '-i', `aevalsrc='0.5*sin(2*PI*440*t)|if(lt(mod(t\\,1)\\,0.1)\\,0.5*sin(2*PI*1000*t)\\,0)':s=${RATE}:c=stereo`],
    ...['-t', '30', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k'],
    path,
  ]);
  return path;
}

/** Presentation times of a stream's packets, sorted. */
async function packetTimes(file: string, stream: string): Promise<number[]> {
  const times = await lines(PLAYER, ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file]);
  return times.map((t) => Number.parseFloat(t)).sort((a, b) => a - b);
}

/** Presentation times of the video's keyframes, sorted. */
async function keyframeTimesOf(file: string): Promise<number[]> {
  const packets = await lines(PLAYER, [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'packet=pts_time,flags',
    '-of',
    'csv=p=0',
    file,
  ]);
  return packets
    .map((line) => line.split(','))
    .filter(([, flags]) => flags?.includes('K'))
    .map(([pts]) => Number.parseFloat(pts!))
    .sort((a, b) => a - b);
}

/** Times of the white frames, on the stream's own timeline. */
async function flashes(file: string): Promise<number[]> {
  const out = await lines(DECODER, [
    ...['-v', 'error', '-copyts', '-i', file, '-map', '0:v:0'],
    ...['-vf', 'signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-', '-f', 'null', '-'],
  ]);
  const times: number[] = [];
  let at = 0;
  for (const line of out) {
    const time = /pts_time:([\d.]+)/.exec(line);
    if (time) at = Number(time[1]);
    const luma = /YAVG=([\d.]+)/.exec(line);
    if (luma && Number(luma[1]) > 200) times.push(at);
  }
  return times;
}

/** The sound as decoded, interleaved stereo; sample i plays at `start` + i / RATE. */
async function sound(file: string): Promise<{ samples: Float32Array; start: number }> {
  const { stdout } = await run(DECODER, ['-v', 'error', '-i', file, '-map', '0:a:0', '-f', 'f32le', '-ac', '2', '-ar', String(RATE), '-'], {
    encoding: 'buffer',
    maxBuffer: 1 << 30,
    timeout: 120_000,
  });
  const bytes = Buffer.from(stdout);
  const samples = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return { samples, start: (await packetTimes(file, 'a:0'))[0]! };
}

/** Where each beep starts: the right channel leaving silence after at least half a second of it. */
function beeps({ samples, start }: { samples: Float32Array; start: number }): number[] {
  const found: number[] = [];
  let quiet = 0;
  for (let i = 0; i < samples.length / 2; i++) {
    const loud = Math.abs(samples[2 * i + 1]!) > 0.05;
    if (loud && quiet > RATE / 2) found.push(start + i / RATE);
    quiet = loud ? 0 : quiet + 1;
  }
  return found;
}

/**
 * The largest second difference of the left channel (a 440 Hz sine of amplitude 0.5 has at most
 * 0.5·(2π·440/48000)² ≈ 0.0017) in `seconds` around `time`: a click, gap or overlap is far above it.
 */
function roughness({ samples, start }: { samples: Float32Array; start: number }, time: number, seconds = 0.05): number {
  const centre = Math.round((time - start) * RATE);
  let most = 0;
  for (let i = Math.max(2, centre - seconds * RATE); i < Math.min(samples.length / 2, centre + seconds * RATE); i++) {
    most = Math.max(most, Math.abs(samples[2 * i]! - 2 * samples[2 * (i - 1)]! + samples[2 * (i - 2)]!));
  }
  return most;
}

describe('a transcode split into chunks', () => {
  it('plays as one run would: every frame once, continuous sound, picture and sound together at every seam', async () => {
    const source = syncClip(join(scratch.dir, 'sync.mp4'));
    // 6-s segments, chunks of at most 12 s: three chunks, the seams at 12 s and 24 s.
    const convert = cliIn(scratch.home, ['convert', source, '--transcode', '--segment-seconds', '6', '--json'], {
      LAMBDA_HLS_CHUNK_SECONDS: '12',
    });
    const result = JSON.parse(convert.stdout) as { status: string; videoId: string; stats: { chunks?: number; chunkSeconds?: number[] } };
    expect(result).toMatchObject({ status: 'SUCCEEDED', stats: { chunks: 3 } });
    expect(result.stats.chunkSeconds).toHaveLength(3);
    const history = JSON.parse(cliIn(scratch.home, ['history', result.videoId, '--json']).stdout) as {
      states: { state: string; iterations?: { succeeded: number }; chunkSeconds?: number[] }[];
    };
    expect(history.states.map((s) => s.state)).toEqual(TRANSCODE_STATES);
    expect(history.states.find((s) => s.state === 'EncodeChunks')).toMatchObject({ iterations: { succeeded: 3 } });

    // Segment durations as asked: five of 6 s.
    const playlist = servedPlaylist(scratch.home, result.videoId).text;
    const durations = [...playlist.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    expect(durations).toHaveLength(5);
    for (const d of durations) expect(Math.abs(d - 6)).toBeLessThanOrEqual(1 / FPS);

    const stream = join(scratch.dir, 'played.ts');
    writeFileSync(stream, playedStream(scratch.home, result.videoId));
    // The segments in a row are one transport stream: no counter restarts, at a segment's edge or a chunk's.
    expect(await continuityFailures(stream)).toEqual([]);
    const frames = await packetTimes(stream, 'v:0');
    expect(frames).toHaveLength(30 * FPS); // as many as the source, none twice
    const first = frames[0]!;
    const span = frames.at(-1)! - first + 1 / FPS;
    expect(Math.abs(span - 30)).toBeLessThanOrEqual(1 / FPS);
    // Evenly spaced: no frame lost or repeated at a seam.
    for (let i = 1; i < frames.length; i++) expect(Math.abs(frames[i]! - frames[i - 1]! - 1 / FPS)).toBeLessThan(0.002);
    // A keyframe at least every 2 s (Apple HLS authoring 1.13), one at every segment's start.
    const keyframes = await keyframeTimesOf(stream);
    for (let i = 1; i < keyframes.length; i++) expect(keyframes[i]! - keyframes[i - 1]!).toBeLessThanOrEqual(2 + 1e-3);
    for (let segment = 0; segment < 5; segment++) expect(keyframes.some((k) => Math.abs(k - first - segment * 6) < 1e-3)).toBe(true);

    const audio = await sound(stream);
    const calm = roughness(audio, first + 4.5, 0.4);
    expect(calm).toBeLessThan(0.0025);
    for (const seam of [12, 24]) {
      expect(roughness(audio, first + seam)).toBeLessThan(calm * 1.5);
    }

    // A beep starts with every flash, within a frame, on each side of each seam.
    const flashed = await flashes(stream);
    expect(flashed).toHaveLength(30);
    const beeped = beeps(audio);
    for (const flash of flashed.slice(1)) {
      const nearest = beeped.reduce((best, b) => (Math.abs(b - flash) < Math.abs(best - flash) ? b : best), Number.POSITIVE_INFINITY);
      expect({ flash, offset: Math.abs(nearest - flash) <= 1 / FPS }).toEqual({ flash, offset: true });
    }
  }, 300_000);
});

/** What Debian's ffmpeg says of a transport stream's continuity counters: each break it found (Apple HLS authoring 7.2). */

describe('a copy in many segments', () => {
  it('is one transport stream: continuity counters go on across every segment (Apple HLS authoring 7.2)', async () => {
    const source = join(scratch.dir, 'copy.mp4');
    ffmpeg([
      ...[
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=320x240:rate=${FPS}:duration=20`,
        '-f',
        'lavfi',
        '-i',
        `sine=sample_rate=${RATE}:duration=20`,
      ],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-g', String(FPS * 2), '-c:a', 'aac', source],
    ]);
    const result = JSON.parse(cliIn(scratch.home, ['convert', source, '--segment-seconds', '4', '--json']).stdout) as {
      status: string;
      videoId: string;
      segments: number;
    };
    expect(result).toMatchObject({ status: 'SUCCEEDED', segments: 5 });
    const stream = join(scratch.dir, `${result.videoId}.ts`);
    writeFileSync(stream, playedStream(scratch.home, result.videoId));
    expect(await continuityFailures(stream)).toEqual([]);
  }, 120_000);
});

describe('a copy with B-frames', () => {
  it("gives each segment its frames' own duration: the first EXTINF without the decoding delay (Apple 8.1: within a frame)", async () => {
    const source = join(scratch.dir, 'b-frames.mp4');
    ffmpeg([
      ...['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}:duration=12`],
      ...['-c:v', 'libx264', '-preset', 'medium', '-bf', '2', '-g', String(FPS * 2), source],
    ]);
    const result = JSON.parse(cliIn(scratch.home, ['convert', source, '--segment-seconds', '4', '--json']).stdout) as {
      status: string;
      videoId: string;
      encoding: string;
    };
    expect(result).toMatchObject({ status: 'SUCCEEDED', encoding: expect.stringMatching(/^copying H\.264/) });
    const durations = [...servedPlaylist(scratch.home, result.videoId).text.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    // 120 frames at 30 fps in each: 4.000000, not 4.066667 (the two frames of B-frame delay) first.
    expect(durations.map((d) => Math.round(d * FPS))).toEqual([120, 120, 120]);
    expect(Math.abs(durations.reduce((a, b) => a + b, 0) - 12)).toBeLessThan(1 / FPS);
  }, 120_000);
});

describe('AAC that browsers cannot decode', () => {
  it('is re-encoded to AAC-LC: AAC Main plays in no browser (MSE decodes AAC-LC and HE-AAC), the picture still copied', async () => {
    const source = join(scratch.dir, 'aac-main.mp4');
    ffmpeg([
      ...['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}:duration=4`, '-f', 'lavfi', '-i', `sine=sample_rate=${RATE}:duration=4`],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-profile:a', 'aac_main', source],
    ]);
    expect(
      await lines(PLAYER, ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=profile', '-of', 'csv=p=0', source]),
    ).toEqual(['Main']);
    const result = JSON.parse(cliIn(scratch.home, ['convert', source, '--json']).stdout) as {
      status: string;
      videoId: string;
      encoding: string;
    };
    expect(result).toMatchObject({ status: 'SUCCEEDED', encoding: expect.stringContaining('AAC Main to AAC-LC') });
    const stream = join(scratch.dir, `${result.videoId}.ts`);
    writeFileSync(stream, playedStream(scratch.home, result.videoId));
    // (MPEG-TS lists its streams under the program as well: one profile per listing.)
    expect([
      ...new Set(
        await lines(PLAYER, ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=profile', '-of', 'csv=p=0', stream]),
      ),
    ]).toEqual(['LC']);
  }, 120_000);
});

describe("a transcode's sound", () => {
  // [case, clip length (picture, sound), codecs, convert's options, environment]
  const cases: [string, { picture: number; sound: number }, string[], string[], Record<string, string>][] = [
    ['5 s of HEVC + AAC: one chunk of one segment', { picture: 5, sound: 5 }, ['-c:v', 'libx265', '-c:a', 'aac'], [], {}],
    [
      '5 s of MPEG-4 Part 2 + MP3: one chunk, the sound transcoded',
      { picture: 5, sound: 5 },
      ['-c:v', 'mpeg4', '-c:a', 'libmp3lame'],
      [],
      {},
    ],
    [
      '25 s in 10-s segments and chunks: the last chunk shorter than a segment',
      { picture: 25, sound: 25 },
      ['-c:v', 'libx265', '-c:a', 'aac'],
      ['--segment-seconds', '10'],
      { LAMBDA_HLS_CHUNK_SECONDS: '10' },
    ],
    ['sound 2 s longer than the picture', { picture: 5, sound: 7 }, ['-c:v', 'libx265', '-c:a', 'aac'], [], {}],
    ['sound 2 s shorter than the picture', { picture: 7, sound: 5 }, ['-c:v', 'libx265', '-c:a', 'aac'], [], {}],
    [
      "12 s in one 12-s segment: longer than the encoder's 250-frame keyframe interval",
      { picture: 12, sound: 12 },
      ['-c:v', 'libx265', '-c:a', 'aac'],
      ['--segment-seconds', '12'],
      {},
    ],
  ];

  it.each(cases)(
    'keeps it all: %s',
    async (name, length, codecs, options, env) => {
      const source = join(scratch.dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.mp4`);
      ffmpeg([
        ...['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}:duration=${length.picture}`],
        ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${RATE}:duration=${length.sound}`],
        ...codecs,
        ...(codecs.includes('libx265') ? ['-preset', 'ultrafast', '-x265-params', 'log-level=none'] : []),
        source,
      ]);
      const convert = cliIn(scratch.home, ['convert', source, ...options, '--json'], env);
      const result = JSON.parse(convert.stdout) as { status: string; videoId: string; segments: number };
      expect(result.status).toBe('SUCCEEDED');
      expect(result.segments).toBe(Math.ceil(length.picture / Number(options[1] ?? 6)));
      const stream = join(scratch.dir, `${result.videoId}.ts`);
      writeFileSync(stream, playedStream(scratch.home, result.videoId));
      expect(await packetTimes(stream, 'v:0')).toHaveLength(length.picture * FPS);
      expect(await continuityFailures(stream)).toEqual([]);
      // The source's sound and up to two AAC frames more (priming and padding MPEG-TS cannot hide), never less.
      const sound = await soundIsWhole(stream, source, RATE);
      expect({ name, ...sound }).toEqual({ name, extra: sound.extra, whole: true });
    },
    120_000,
  );
});
