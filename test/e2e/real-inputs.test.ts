// Inputs as phones and editors make them, generated here with ffmpeg, converted by the built CLI,
// and judged by what an independent player (Debian's ffprobe) reads from the stream a viewer gets:
// its picture's size, its frames, its colour tags, where its sound starts.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildCli, cliAsync, cliIn } from '../support/cli';
import { dashManifest, ffmpeg, makeVideo, recordingListener, rotateMp4, tempDir, writeText } from '../support/fixtures';
import { playedStream, servedPlaylist } from '../support/independent-playlist';
import { PLAYER, videoStreamOf } from '../support/player';

let home: string;
let dir: string;

beforeAll(() => {
  expect(buildCli()).toBe(true);
  if (!existsSync(PLAYER)) throw new Error(`the player check needs ${PLAYER}: apt-get install ffmpeg (or set E2E_FFPROBE)`);
  home = tempDir('e2e-real-home');
  dir = tempDir('e2e-real-media');
});

interface Converted {
  status: string;
  videoId: string;
  encoding?: string;
  warnings: string[];
  error?: { state: string; error: string; cause: string };
}

function convert(file: string): Converted {
  const run = cliIn(home, ['convert', file, '--json']);
  if (!run.stdout.trim()) throw new Error(`convert printed nothing: ${run.stderr}`);
  return JSON.parse(run.stdout) as Converted;
}

interface Seen {
  width: number;
  height: number;
  codec: string;
  profile: string;
  pixelFormat: string;
  transfer?: string;
  primaries?: string;
  frames: number;
}

/** What the player makes of a file, or of the stream a viewer of `videoId` gets. */
async function seen(input: string): Promise<Seen> {
  const s = await videoStreamOf(PLAYER, input, true);
  return {
    width: Number(s.width),
    height: Number(s.height),
    codec: String(s.codec_name),
    profile: String(s.profile),
    pixelFormat: String(s.pix_fmt),
    ...(s.color_transfer !== undefined && { transfer: String(s.color_transfer) }),
    ...(s.color_primaries !== undefined && { primaries: String(s.color_primaries) }),
    frames: Number(s.nb_read_frames),
  };
}

/** The stream a viewer of the video gets, as one file. */
function stream(videoId: string): string {
  const path = join(dir, `${videoId}.ts`);
  writeFileSync(path, playedStream(home, videoId));
  return path;
}

/** First presentation time of each stream the player finds, by type. */
async function starts(input: string): Promise<{ video: number; audio: number }> {
  const first = async (stream: string) => {
    const { stdout } = await promisify(execFile)(
      PLAYER,
      ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts_time', '-read_intervals', '%+#1', '-of', 'csv=p=0', input],
      { timeout: 60_000 },
    );
    return Number.parseFloat(stdout.trim().split('\n')[0]!);
  };
  return { video: await first('v:0'), audio: await first('a:0') };
}

describe('real-world inputs, judged by what a player shows', () => {
  it('turns a portrait phone clip (H.264 with a 90° display matrix) upright', async () => {
    const file = rotateMp4(makeVideo(join(dir, 'portrait.mp4'), { seconds: 4, size: '320x180' }), 90);
    expect(await seen(file)).toMatchObject({ width: 320, height: 180 }); // as coded: the player turns it
    const run = convert(file);
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      encoding: 'transcoding to H.264: rotated 90°: turned upright; --ladder auto: 180p 180x320 200k',
    });
    expect(await seen(stream(run.videoId))).toMatchObject({ width: 180, height: 320, frames: 100 });
  });

  it('tone-maps HDR (HEVC Main 10, HLG, BT.2020) to 8-bit H.264 tagged BT.709', async () => {
    const file = join(dir, 'hdr phone.mp4');
    ffmpeg([
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '2'],
      ...[
        '-c:v',
        'libx265',
        '-pix_fmt',
        'yuv420p10le',
        '-x265-params',
        'log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc',
      ],
      ...[
        '-color_primaries',
        'bt2020',
        '-color_trc',
        'arib-std-b67',
        '-colorspace',
        'bt2020nc',
        '-tag:v',
        'hvc1',
        '-c:a',
        'aac',
        '-shortest',
      ],
      file,
    ]);
    expect(await seen(file)).toMatchObject({ codec: 'hevc', pixelFormat: 'yuv420p10le', transfer: 'arib-std-b67' });
    const run = convert(file);
    expect(run).toMatchObject({ status: 'SUCCEEDED' });
    expect(run.encoding).toContain('HDR (HLG): tone-mapped to SDR BT.709');
    expect(await seen(stream(run.videoId))).toMatchObject({
      codec: 'h264',
      pixelFormat: 'yuv420p',
      transfer: 'bt709',
      primaries: 'bt709',
      frames: 50,
    });
  });

  it('starts a clip trimmed without re-encoding (an edit list) where its editor cut it, sound and picture together', async () => {
    const source = join(dir, 'take.mp4');
    ffmpeg([
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine', '-t', '20'],
      ...['-c:v', 'libx264', '-g', '300', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', source],
    ]);
    const trimmed = join(dir, 'take trimmed.mp4');
    ffmpeg(['-ss', '2.5', '-i', source, '-c', 'copy', trimmed]); // as an editor's "trim" does: 600 frames kept, 525 played
    expect((await seen(trimmed)).frames).toBe(525);
    const run = convert(trimmed);
    expect(run.encoding).toContain('an edit list trims 2.5 s that a copy would bring back');
    const played = stream(run.videoId);
    expect((await seen(played)).frames).toBe(525);
    const { video, audio } = await starts(played);
    expect(Math.abs(video - audio)).toBeLessThan(0.05);
  });

  it('scales an odd frame size to even instead of failing', async () => {
    const file = join(dir, 'odd size.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=321x181:rate=25', '-t', '2', '-c:v', 'mpeg4', file]);
    const run = convert(file);
    expect(run).toMatchObject({ status: 'SUCCEEDED' });
    expect(run.encoding).toContain('odd frame size 321x181: scaled to 320x180');
    expect(await seen(stream(run.videoId))).toMatchObject({ width: 320, height: 180, frames: 50 });
  });

  it.each([
    ['High 10', 'yuv420p10le'],
    ['High 4:4:4 Predictive', 'yuv444p'],
  ])(
    're-encodes H.264 %s, which Safari and hardware decoders cannot play, as 8-bit 4:2:0 (Main: the ladder’s rungs below 720p are)',
    async (profile, pixelFormat) => {
      const file = join(dir, `${pixelFormat}.mp4`);
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '2', '-c:v', 'libx264', '-pix_fmt', pixelFormat, file]);
      expect(await seen(file)).toMatchObject({ profile });
      const run = convert(file);
      expect(run.encoding).toMatch(
        new RegExp(`^transcoding to H\\.264: H\\.264 ${profile} is not widely playable; --ladder auto: 180p 320x180 `),
      );
      expect(await seen(stream(run.videoId))).toMatchObject({ profile: 'Main', pixelFormat: 'yuv420p', frames: 50 });
    },
  );

  it('copies what players play as it is, and says so', async () => {
    const run = convert(makeVideo(join(dir, 'plain.mp4'), { seconds: 2, size: '320x180' }));
    expect(run).toMatchObject({ status: 'SUCCEEDED', encoding: expect.stringMatching(/^copying H\.264 [A-Za-z ]+ \d\.\d$/), warnings: [] });
  });

  it('says that only the first of two audio tracks is kept, in convert and in history', () => {
    const file = join(dir, 'two languages.mp4');
    ffmpeg([
      ...[
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x180:rate=25',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=660',
      ],
      ...['-t', '2', '-map', '0', '-map', '1', '-map', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file],
    ]);
    const run = convert(file);
    expect(run).toMatchObject({ status: 'SUCCEEDED', warnings: ['only the first of 2 audio tracks is kept'] });
    const text = cliIn(home, ['convert', file]);
    expect(text.stdout + text.stderr).toContain('warning   only the first of 2 audio tracks is kept');
    const history = cliIn(home, ['history', run.videoId]);
    expect(history.stdout).toMatch(/ValidateInput .*copying H\.264/);
    expect(history.stdout).toMatch(/warning +only the first of 2 audio tracks is kept/);
  });

  it('says when copying makes segments longer than asked (a long GOP), and --transcode cuts where asked', () => {
    const file = makeVideo(join(dir, 'screen recording.mp4'), { seconds: 40, size: '320x180', gop: 25 * 30 });
    const copied = convert(file);
    expect(copied).toMatchObject({
      status: 'SUCCEEDED',
      encoding: expect.stringMatching(/^copying H\.264/),
      warnings: [
        "segments are up to 30.0 s long, not the 6 s asked: copying cuts only at the source's keyframes; --transcode (options.transcode) cuts every 6 s",
      ],
    });
    expect(cliIn(home, ['history', copied.videoId]).stdout).toMatch(
      /SegmentMedia +SUCCEEDED.*\n +warning +segments are up to 30\.0 s long/,
    );
    const durations = (videoId: string) => [...servedPlaylist(home, videoId).text.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    expect(Math.max(...durations(copied.videoId))).toBeCloseTo(30, 0);

    const run = cliIn(home, ['convert', file, '--json', '--transcode']);
    const transcoded = JSON.parse(run.stdout) as Converted;
    expect(transcoded).toMatchObject({
      status: 'SUCCEEDED',
      encoding: 'transcoding to H.264: --transcode: segments cut where asked; --ladder auto: 180p 320x180 200k',
      warnings: [],
    });
    const cut = durations(transcoded.videoId);
    // 40 s in the default 6-s segments: six of 6 s and the last 4 s.
    expect(cut).toHaveLength(7);
    for (const d of cut.slice(0, -1)) expect(d).toBeCloseTo(6, 0);
    expect(cut.at(-1)).toBeCloseTo(4, 0);
  });

  it('shows how far SegmentMedia has got while ffmpeg works, from its own progress, on the same progress lines', () => {
    const file = makeVideo(join(dir, 'lecture to transcode.mp4'), { seconds: 30, size: '640x360', videoCodec: 'mpeg4' });
    const run = cliIn(home, ['convert', file]);
    expect(run.code).toBe(0);
    const percents = [...run.stderr.matchAll(/^ {2}\.\.\. {5}SegmentMedia +(\d+)% {2}\d+\.\d s of 30\.0 s$/gm)].map((m) => Number(m[1]));
    expect(percents.length).toBeGreaterThan(0);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.every((p) => p <= 100)).toBe(true);
    // Before SegmentMedia's own line, after ValidateInput's.
    expect(run.stderr.indexOf('SegmentMedia ')).toBeGreaterThan(run.stderr.indexOf('ok      ValidateInput'));
    expect(run.stderr.indexOf('% ')).toBeLessThan(run.stderr.indexOf('ok      SegmentMedia'));
  });

  describe('inputs that are not what they claim', () => {
    /** The first `fraction` of a file, as an interrupted upload leaves it. */
    const cut = (source: string, name: string, fraction: number) => {
      const whole = readFileSync(source);
      const path = join(dir, name);
      writeFileSync(path, whole.subarray(0, Math.floor(whole.length * fraction)));
      return path;
    };

    it('never fetches a link written inside an upload: a DASH manifest or an HLS playlist named .mp4 or .mp3', async () => {
      const listener = await recordingListener();
      const { base } = listener;
      try {
        const mpd = writeText(join(dir, 'stream.mp4'), dashManifest(base));
        const m3u8 = join(dir, 'playlist.mp4');
        writeFileSync(m3u8, `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n${base}/secret.ts\n#EXT-X-ENDLIST\n`);
        const m3u = join(dir, 'radio.mp3');
        writeFileSync(m3u, `#EXTM3U\n#EXTINF:-1,radio\n${base}/stream.mp3\n`);
        for (const [file, what] of [
          [mpd, 'is not MP4 but a DASH manifest'],
          [m3u8, 'is not MP4 but an HLS playlist'],
          [m3u, 'is not MP3 but an HLS playlist'],
        ] as const) {
          const run = await cliAsync(home, ['convert', file, '--json']);
          expect(run.code).toBe(1);
          expect(JSON.parse(run.stdout)).toMatchObject({
            status: 'FAILED',
            error: { state: 'ValidateInput', error: 'NotMedia', cause: expect.stringContaining(what) },
          });
        }
        expect(listener.requests).toEqual([]);
      } finally {
        await listener.close();
      }
    });

    it('refuses an mp4 cut before its index (moov at the end) as TruncatedInput in ValidateInput', () => {
      const file = cut(makeVideo(join(dir, 'whole-late-index.mp4'), { seconds: 4, size: '320x180' }), 'cut-late-index.mp4', 0.6);
      expect(convert(file)).toMatchObject({
        status: 'FAILED',
        error: { state: 'ValidateInput', error: 'TruncatedInput', cause: expect.stringMatching(/ends before its index/) },
      });
    });

    it('refuses a faststart mp4 cut at 60 % instead of publishing 12 s of a 20 s video', () => {
      const whole = makeVideo(join(dir, 'whole-faststart.mp4'), { seconds: 20, size: '320x180', movflags: '+faststart' });
      const run = convert(cut(whole, 'cut-faststart.mp4', 0.6));
      expect(run).toMatchObject({ status: 'FAILED', error: { state: 'SegmentMedia', error: 'TruncatedInput' } });
      expect(run.error?.cause).toMatch(
        /^"cut-faststart\.mp4" is cut short: its media ends at 1[0-3]\.\d s of the 20\.0 s its header declares/,
      );
      expect(cliIn(home, ['list', '--json']).stdout).not.toContain(run.videoId);
    });
  });
});
