// The whole product as a user runs it: the built CLI converts generated clips, `serve` answers on
// 127.0.0.1, and an independent player (Debian's ffmpeg 5.1 ffprobe) reads each playlist over
// HTTP through the 302s and byte ranges.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { checkMultivariant, checkPlaylist } from '../../src/core/playlist';
import { buildCli, CLI, cliAsync, cliIn, localKeyOf, localVideoIdOf, serveHome } from '../support/cli';
import { checkEveryPlaylist } from '../support/independent-playlist';
import { boxOf, declaringSamples, rewriteBoxes } from '../support/mp4-boxes';
import { rawGet } from '../support/raw-http';
import { framesOf, gstreamerFrames, PLAYER, VLC_UNSHOWN_LAST_FRAMES, vlcFrames } from '../support/player';
import {
  CONVERSION_STATES,
  ffmpeg,
  leftovers,
  testBinaries,
  makeAudioOnlyMp4,
  makeMp3,
  makeVideo,
  makeWav,
  tempDir,
  writeText,
} from '../support/fixtures';

let home: string;
let dir: string;
let server: ChildProcess | undefined;
let baseUrl = '';

function cli(args: string[]) {
  return cliIn(home, args);
}

function convertJson(file: string, extra: string[] = []) {
  const run = cli(['convert', file, '--json', '--segment-seconds', '4', ...extra]);
  const json = JSON.parse(run.stdout.trim()) as {
    status: string;
    videoId: string;
    executionName: string;
    playlist: string | null;
    segments: number;
    renditions?: { name: string; playlist: string }[];
    error?: { state: string; error: string; cause: string };
  };
  return { ...run, json };
}

function probe(binary: string, args: string[]): string {
  const result = spawnSync(binary, ['-v', 'error', ...args], { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`${binary} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

/** Seconds of decoded audio: from the first packet's start to the last packet's end. */
function audioSpan(binary: string, input: string): number {
  const rows = probe(binary, ['-select_streams', 'a:0', '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', input])
    .split('\n')
    // pts,duration (a packet with side data lists an empty field after them)
    .map((line) => line.split(',').slice(0, 2).map(Number))
    .filter((r) => r.length === 2 && !Number.isNaN(r[0]) && !Number.isNaN(r[1]));
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  return last[0]! + last[1]! - first[0]!;
}

async function startServe(): Promise<void> {
  const served = await serveHome(home);
  server = served.server;
  baseUrl = served.baseUrl;
}

let h264: string;
let mpeg4: string;
let mp3: string;

beforeAll(async () => {
  expect(buildCli()).toBe(true);
  if (!existsSync(PLAYER)) {
    throw new Error(`the e2e player check needs ${PLAYER}: apt-get install ffmpeg (or set E2E_FFPROBE)`);
  }
  home = tempDir('e2e-home');
  dir = tempDir('e2e-media');
  h264 = makeVideo(join(dir, 'Mon été à Paris — clip 1.MP4'), { seconds: 12, size: '320x180' });
  mpeg4 = makeVideo(join(dir, 'old camera.mp4'), { seconds: 6, size: '320x240', videoCodec: 'mpeg4' });
  mp3 = makeMp3(join(dir, 'podcast episode.mp3'), 12);
});

afterAll(() => {
  server?.kill('SIGTERM');
});

describe('lambda-hls convert, serve and an independent player', () => {
  const converted: Record<string, ReturnType<typeof convertJson>['json']> = {};

  it('converts an H.264 mp4 whose name has spaces and non-ASCII letters', () => {
    const run = convertJson(h264);
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({
      status: 'SUCCEEDED',
      videoId: expect.stringMatching(/^mon-ete-a-paris-clip-1-[0-9a-f]{6}$/),
      segments: 3,
    });
    expect(run.json.playlist && existsSync(run.json.playlist)).toBe(true);
    expect(run.stderr).toMatch(/PackageSegments +1\/1/); // three small segments share one package
    converted.h264 = run.json;
  });

  it('transcodes an mp4 that is not H.264', () => {
    const run = convertJson(mpeg4);
    expect(run.code).toBe(0);
    expect(run.json.status).toBe('SUCCEEDED');
    converted.mpeg4 = run.json;
  });

  it('converts a file given through a relative symbolic link, which stays as it was', () => {
    const folder = join(dir, 'linked');
    mkdirSync(join(folder, 'shortcuts'), { recursive: true });
    makeVideo(join(folder, 'holiday.mp4'), { seconds: 4 });
    const link = join(folder, 'shortcuts', 'holiday link.mp4');
    symlinkSync(join('..', 'holiday.mp4'), link);
    const run = convertJson(link);
    expect([run.code, run.json.status, run.json.error]).toEqual([0, 'SUCCEEDED', undefined]);
    expect([readlinkSync(link), lstatSync(link).isSymbolicLink()]).toEqual([join('..', 'holiday.mp4'), true]);
    expect(cli(['delete', run.json.videoId]).code).toBe(0);
  });

  it('converts an mp3, its last moments in the last segment rather than a sliver of their own', () => {
    const run = convertJson(mp3);
    expect(run.code).toBe(0);
    expect(run.json.status).toBe('SUCCEEDED');
    converted.mp3 = run.json;
    // 12.02 s in 4-s segments: three, the last 4.02 s (not a fourth of 23 ms: one AAC frame).
    const durations = [...readFileSync(run.json.playlist!, 'utf8').matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    expect(durations).toHaveLength(3);
    expect(durations.at(-1)).toBeGreaterThan(4);
  });

  it('writes every playlist by RFC 8216 with byte ranges inside their packages', async () => {
    for (const video of Object.values(converted)) {
      // A ladder: its multivariant playlist, and each rung's media playlist as one rendition's is.
      const media = video.renditions ? video.renditions.map((r) => r.playlist) : [video.playlist!];
      if (video.renditions) expect(checkMultivariant(readFileSync(video.playlist!, 'utf8')).problems).toEqual([]);
      for (const playlist of media) {
        const check = checkPlaylist(readFileSync(playlist, 'utf8'));
        expect(check.problems).toEqual([]);
        expect(check.version).toBeGreaterThanOrEqual(4);
        expect(check.segments).toHaveLength(video.segments);
      }
    }
    // And by a parser we did not write, with every range inside its package's bytes on disk.
    expect(checkEveryPlaylist(home)).toEqual({ checked: Object.keys(converted).length, problems: {} });
  });

  it('keeps the uploads, packages and history to the user who converted them (folders 700, the signing key 600)', () => {
    const modes = Object.fromEntries(
      ['buckets', 'functions', 'executions', 'signing-key'].map((name) => [name, (statSync(join(home, name)).mode & 0o777).toString(8)]),
    );
    expect(modes).toEqual({ buckets: '700', functions: '700', executions: '700', 'signing-key': '600' });
  });

  it('stores packages that unzip -t accepts', () => {
    const functions = readdirSync(join(home, 'functions'));
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      const result = spawnSync('unzip', ['-t', join(home, 'functions', fn, 'code.zip')], { encoding: 'utf8' });
      expect([fn, result.status, result.stdout]).toEqual([fn, 0, expect.stringContaining('No errors detected')]);
    }
  });

  it('serves on 127.0.0.1 and the player decodes every frame of the source through the 302s', async () => {
    await startServe();
    for (const [name, source] of [
      ['h264', h264],
      ['mpeg4', mpeg4],
    ] as const) {
      const url = `${baseUrl}/v/${converted[name]!.videoId}/index.m3u8`;
      const sourceFrames = await framesOf(testBinaries().ffprobe, source);
      expect(sourceFrames).toBeGreaterThan(100);
      expect([name, await framesOf(PLAYER, url)]).toEqual([name, sourceFrames]);
    }
  });

  it('the player matrix: VLC and GStreamer play each video to its end through the 302s and through the delivery route', async () => {
    for (const [name, source] of [
      ['h264', h264],
      ['mpeg4', mpeg4],
    ] as const) {
      const sourceFrames = await framesOf(testBinaries().ffprobe, source);
      for (const path of [`/v/${converted[name]!.videoId}/index.m3u8`, `/proxy/v/${converted[name]!.videoId}/index.m3u8`]) {
        expect([name, path, 'gstreamer', await gstreamerFrames(`${baseUrl}${path}`)]).toEqual([name, path, 'gstreamer', sourceFrames]);
        // Every frame but the last, which VLC shows of no HLS stream (VLC_UNSHOWN_LAST_FRAMES says why).
        expect([name, path, 'vlc', await vlcFrames(`${baseUrl}${path}`)]).toEqual([
          name,
          path,
          'vlc',
          sourceFrames - VLC_UNSHOWN_LAST_FRAMES,
        ]);
      }
      // ffmpeg through the delivery route too (the 302s are the test above).
      expect(await framesOf(PLAYER, `${baseUrl}/proxy/v/${converted[name]!.videoId}/index.m3u8`)).toBe(sourceFrames);
    }
  });

  it('plays the mp3 for as long as the source, within 0.1 s', () => {
    const url = `${baseUrl}/v/${converted.mp3!.videoId}/index.m3u8`;
    const source = Number(probe(testBinaries().ffprobe, ['-show_entries', 'format=duration', '-of', 'csv=p=0', mp3]));
    expect(Math.abs(audioSpan(PLAYER, url) - source)).toBeLessThanOrEqual(0.1);
  });

  it('converts an .mp4 of sound alone (a voice memo, an .m4a renamed) to audio-only HLS, played as long as the source', () => {
    const voice = makeAudioOnlyMp4(join(dir, 'voice memo.mp4'), 6);
    const run = convertJson(voice);
    expect([run.code, run.json.status]).toEqual([0, 'SUCCEEDED']);
    converted.voice = run.json;
    const url = `${baseUrl}/v/${run.json.videoId}/index.m3u8`;
    const kinds = new Set(probe(PLAYER, ['-show_entries', 'stream=codec_type', '-of', 'csv=p=0', url]).split('\n').filter(Boolean));
    expect([...kinds]).toEqual(['audio']);
    const source = Number(probe(testBinaries().ffprobe, ['-show_entries', 'format=duration', '-of', 'csv=p=0', voice]));
    expect(Math.abs(audioSpan(PLAYER, url) - source)).toBeLessThanOrEqual(0.1);
  });

  it('answers a segment with a 302 to a signed URL that serves the byte range', async () => {
    const playlist = checkPlaylist(await (await fetch(`${baseUrl}/v/${converted.h264!.videoId}/index.m3u8`)).text());
    const segment = playlist.segments[1]!;
    const redirect = await fetch(`${baseUrl}/v/${converted.h264!.videoId}/${segment.uri}`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const location = new URL(redirect.headers.get('location')!, baseUrl);
    const range = await fetch(location, { headers: { Range: `bytes=${segment.offset}-${segment.offset + segment.length - 1}` } });
    expect(range.status).toBe(206);
    expect(range.headers.get('access-control-allow-origin')).toBe('*');
    const bytes = Buffer.from(await range.arrayBuffer());
    expect(bytes.length).toBe(segment.length);
    expect(bytes[0]).toBe(0x47); // an MPEG-TS sync byte: the segment starts exactly here
    location.searchParams.set('signature', '0'.repeat(64));
    expect((await fetch(location)).status).toBe(403);
  });

  it('answers both playlists gzip-encoded when the player takes gzip (Apple HLS authoring 10.1), the same text as plain', async () => {
    const videoId = converted.h264!.videoId;
    for (const path of [`/v/${videoId}/index.m3u8`, `/proxy/v/${videoId}/index.m3u8`]) {
      const plain = await rawGet(`${baseUrl}${path}`);
      const gzipped = await rawGet(`${baseUrl}${path}`, { 'Accept-Encoding': 'gzip, deflate' });
      expect([path, plain.status, plain.headers['content-encoding'], gzipped.status, gzipped.headers['content-encoding']]).toEqual([
        path,
        200,
        undefined,
        200,
        'gzip',
      ]);
      expect(gzipped.headers.vary).toBe('Accept-Encoding');
      expect(Number(gzipped.headers['content-length'])).toBe(gzipped.body.length);
      expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
      expect(plain.body.toString()).toMatch(/^#EXTM3U\n/);
    }
  });

  it('never hands out a file that a link planted in the home points to, out of it', async () => {
    const playlist = checkPlaylist(await (await fetch(`${baseUrl}/v/${converted.h264!.videoId}/index.m3u8`)).text());
    const redirect = await fetch(`${baseUrl}/v/${converted.h264!.videoId}/${playlist.segments[0]!.uri}`, { redirect: 'manual' });
    const location = new URL(redirect.headers.get('location')!, baseUrl);
    const name = /\/code\/([^/]+)\.zip$/.exec(location.pathname)![1]!;
    const folder = join(home, 'functions', name);
    const elsewhere = join(dir, 'planted');
    mkdirSync(elsewhere, { recursive: true });
    writeFileSync(join(elsewhere, 'code.zip'), 'a private file of the user');
    const answer = async () => {
      const response = await fetch(location);
      return [response.status, (await response.text()).includes('private')];
    };
    expect(await answer()).toEqual([200, false]);
    renameSync(join(folder, 'code.zip'), join(folder, 'code.zip.kept'));
    try {
      symlinkSync(join(elsewhere, 'code.zip'), join(folder, 'code.zip')); // the package a link
      expect(await answer()).toEqual([404, false]);
      renameSync(folder, `${folder}.kept`);
      symlinkSync(elsewhere, folder); // the function's folder a link
      expect(await answer()).toEqual([404, false]);
    } finally {
      if (lstatSync(folder, { throwIfNoEntry: false })?.isSymbolicLink()) rmSync(folder);
      if (existsSync(`${folder}.kept`)) renameSync(`${folder}.kept`, folder);
      rmSync(join(folder, 'code.zip'), { force: true });
      renameSync(join(folder, 'code.zip.kept'), join(folder, 'code.zip'));
    }
    expect(await answer()).toEqual([200, false]);
  });

  it('shows a player page that lists the videos', async () => {
    const page = await (await fetch(`${baseUrl}/`)).text();
    expect(page).toContain('/hls.min.js');
    expect((await fetch(`${baseUrl}/hls.min.js`)).status).toBe(200);
    const videos = (await (await fetch(`${baseUrl}/api/videos`)).json()) as { videoId: string; segments: number; packages: number }[];
    expect(videos.map((v) => v.videoId).sort()).toEqual(
      Object.values(converted)
        .map((v) => v.videoId)
        .sort(),
    );
  });

  it("shows one video's own page at /watch/<id>, and answers the delivery route under /proxy only for registered segments and ranges within them", async () => {
    const { videoId } = converted.h264!;
    const watch = await fetch(`${baseUrl}/watch/${videoId}`);
    expect([watch.status, await watch.text()]).toEqual([200, expect.stringContaining(`/proxy/v/${videoId}/index.m3u8`)]);
    expect((await fetch(`${baseUrl}/watch/no-such-video-000000`)).status).toBe(404);
    // hls.js goes gzip-encoded to a browser that takes it (a quarter of the bytes on a slow link), as it is to one that does not.
    const hlsText = readFileSync(require.resolve('hls.js/dist/hls.min.js'), 'utf8');
    const encoded = await fetch(`${baseUrl}/player/hls.min.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect([encoded.status, encoded.headers.get('content-encoding'), (await encoded.text()) === hlsText]).toEqual([200, 'gzip', true]);
    const plain = await fetch(`${baseUrl}/player/hls.min.js`, { headers: { 'accept-encoding': 'identity' } });
    expect([plain.status, plain.headers.get('content-encoding'), (await plain.text()) === hlsText]).toEqual([200, null, true]);
    const proxied = await (await fetch(`${baseUrl}/proxy/v/${videoId}/index.m3u8`)).text();
    const uri = /^[^#\s].*\.ts$/m.exec(proxied)![0];
    expect(uri).toMatch(/^[0-9a-f]{8}\/s0\.ts$/);
    const segment = await fetch(`${baseUrl}/proxy/v/${videoId}/${uri}`);
    const bytes = Buffer.from(await segment.arrayBuffer());
    expect([segment.status, segment.headers.get('access-control-allow-origin'), bytes[0]]).toEqual([200, '*', 0x47]);
    const tail = await fetch(`${baseUrl}/proxy/v/${videoId}/${uri}`, { headers: { Range: 'bytes=-188' } });
    expect([tail.status, tail.headers.get('content-range')]).toEqual([
      206,
      `bytes ${bytes.length - 188}-${bytes.length - 1}/${bytes.length}`,
    ]);
    const beyond = await fetch(`${baseUrl}/proxy/v/${videoId}/${uri}`, { headers: { Range: `bytes=${bytes.length}-` } });
    expect([beyond.status, beyond.headers.get('content-range')]).toEqual([416, `bytes */${bytes.length}`]);
    // An invalid range (last byte before the first) is ignored, as RFC 9110 and S3 do: the whole segment.
    const invalid = await fetch(`${baseUrl}/proxy/v/${videoId}/${uri}`, { headers: { Range: 'bytes=5-3' } });
    expect([invalid.status, Buffer.from(await invalid.arrayBuffer()).equals(bytes)]).toEqual([200, true]);
    const revision = uri.split('/')[0];
    for (const path of [`${revision}/s999.ts`, `0000aaaa/s0.ts`, `${revision}/0.ts`]) {
      expect([path, (await fetch(`${baseUrl}/proxy/v/${videoId}/${path}`)).status]).toEqual([path, 404]);
    }
  });

  it('contains a damaged route record: named by list, left out of /api/videos, kept by gc, repaired by converting again', async () => {
    const { videoId } = converted.mp3!;
    const recordPath = join(home, 'buckets', 'output', 'routes', `${videoId}.json`);
    const record = readFileSync(recordPath, 'utf8');
    writeFileSync(recordPath, record.slice(0, 138)); // cut mid-string, as a full disk or a killed editor leaves it
    const functionsBefore = readdirSync(join(home, 'functions')).sort();

    const list = cli(['list', '--json']);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { videoId: string }[]).map((v) => v.videoId).sort()).toEqual(
      [converted.h264!.videoId, converted.mpeg4!.videoId, converted.voice!.videoId].sort(),
    );
    expect(list.stderr).toContain(`1 record unreadable: output/routes/${videoId}.json (`);
    const api = await fetch(`${baseUrl}/api/videos`);
    expect(api.status).toBe(200);
    expect(((await api.json()) as { videoId: string }[]).map((v) => v.videoId)).not.toContain(videoId);
    const gc = JSON.parse(cli(['gc', '--json']).stdout) as { functions: string[]; objects: string[]; unreadable: string[] };
    expect(gc).toMatchObject({ functions: [], objects: [], unreadable: [`output/routes/${videoId}.json`] });
    expect(readdirSync(join(home, 'functions')).sort()).toEqual(functionsBefore);

    const again = convertJson(mp3);
    expect(again.json).toMatchObject({ status: 'SUCCEEDED', videoId });
    expect(JSON.parse(readFileSync(recordPath, 'utf8'))).toEqual({ ...JSON.parse(record), registeredAt: expect.any(String) });
    expect(cli(['list']).stderr).not.toContain('unreadable');
  });

  it('shows the history of a conversion', () => {
    const run = cli(['history', converted.h264!.videoId, '--json']);
    expect(run.code).toBe(0);
    const history = JSON.parse(run.stdout) as {
      status: string;
      stats: Record<string, number>;
      states: { state: string; status: string; iterations?: { succeeded: number }; packages?: number }[];
    };
    expect(history.status).toBe('SUCCEEDED');
    expect(history.states.map((s) => s.state)).toEqual(CONVERSION_STATES);
    // Three small segments make one package, in one batch (one Map iteration).
    expect(history.states.find((s) => s.state === 'PackageSegments')).toMatchObject({ iterations: { succeeded: 1 }, packages: 1 });
    expect(history.stats).toEqual({
      segments: 3,
      packages: 1,
      maxStatePayloadBytes: expect.any(Number),
      historyEvents: 43 + 7, // 7 Tasks × 5 events, Map 4, the Choice 2, execution 2; 7 for the one batch
      ffmpegSeconds: expect.any(Number),
      ffmpegPausedSeconds: expect.any(Number),
    });
    expect(history.stats.ffmpegPausedSeconds).toBeLessThanOrEqual(history.stats.ffmpegSeconds!);
    const text = cli(['history', converted.h264!.videoId]).stdout;
    expect(text).toMatch(/PackageSegments +SUCCEEDED .*1\/1 batch, 1 package/);
    expect(text).toMatch(/size +3 segments, 1 package, largest state \d+ bytes \(limit 262144\), 50 history events \(limit 25000\)/);
  });

  it('fails a bad input with exit 1, a named error in history, and nothing left behind', () => {
    const before = leftovers(home);
    const run = convertJson(writeText(join(dir, 'holiday.avi'), 'not a video'));
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ status: 'FAILED', playlist: null, error: { state: 'ValidateInput', error: 'UnsupportedExtension' } });
    const history = cli(['history', run.json.executionName]);
    expect(history.stdout).toMatch(/failed state +ValidateInput/);
    expect(history.stdout).toMatch(/error +UnsupportedExtension/);
    expect(history.stdout).toMatch(/cause +"holiday.avi" is not an .mp4 or .mp3 file/);
    expect(leftovers(home)).toEqual(before);
  });

  it('exits 2 for a missing file or a bad flag', () => {
    expect(cli(['convert', join(dir, 'nowhere.mp4')]).code).toBe(2);
    expect(cli(['convert', h264, '--segment-seconds', 'zero']).code).toBe(2);
    expect(cli(['frobnicate']).code).toBe(2);
    const badFaults = spawnSync(process.execPath, [CLI, 'convert', h264], {
      env: { ...process.env, LAMBDA_HLS_HOME: home, LAMBDA_HLS_FAULTS: 'code.throttle=lots' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(badFaults.status).toBe(2);
    expect(badFaults.stderr).toContain('LAMBDA_HLS_FAULTS: "code.throttle=lots" is not <port>.<kind>=<rate 0..1>');
  });

  it('explains itself with --help', () => {
    const run = cli(['--help']);
    expect(run.code).toBe(0);
    for (const command of ['convert', 'serve', 'history', 'list', 'delete']) expect(run.stdout).toContain(command);
    expect(cli(['convert', '--help']).stdout).toContain('--segment-seconds');
  });

  it('lists the videos, then deletes one with nothing left behind', async () => {
    const list = JSON.parse(cli(['list', '--json']).stdout) as { videoId: string }[];
    expect(list.map((v) => v.videoId).sort()).toEqual(
      Object.values(converted)
        .map((v) => v.videoId)
        .sort(),
    );
    const id = converted.mpeg4!.videoId;
    const run = cli(['delete', id]);
    expect(run.code).toBe(0);
    expect(leftovers(home).filter((f) => f.includes(id))).toEqual([]);
    expect((JSON.parse(cli(['list', '--json']).stdout) as { videoId: string }[]).map((v) => v.videoId)).not.toContain(id);
    // (A running server stops answering for it once its route cache expires: serve-segment's unit tests, with a clock.)
    expect(cli(['delete', id]).code).toBe(1);
  });

  it('refuses delete with neither a video id nor --all, deleting nothing', () => {
    const before = leftovers(home);
    const run = cli(['delete']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('give either a video id or --all');
    expect(leftovers(home)).toEqual(before);
  });

  it('offers --stage and --region on the commands that work against AWS, and says what is missing without credentials', () => {
    for (const command of ['convert', 'history', 'list', 'delete']) {
      const help = cli([command, '--help']).stdout;
      expect(help).toContain('--stage <name>');
      expect(help).toContain('--region <region>');
    }
    const noCredentials = spawnSync(process.execPath, [CLI, 'list', '--stage', 'dev', '--region', 'eu-west-1'], {
      env: {
        PATH: process.env.PATH,
        HOME: home,
        LAMBDA_HLS_HOME: home,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'),
        AWS_CONFIG_FILE: join(home, 'none'),
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(noCredentials.status).toBe(1);
    expect(noCredentials.stderr).toContain('--stage needs AWS credentials');
    expect(noCredentials.stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
  });

  it('deletes every video and every function with delete --all', () => {
    expect((JSON.parse(cli(['list', '--json']).stdout) as unknown[]).length).toBeGreaterThan(0);
    const run = cli(['delete', '--all']);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/deleted every video: [1-9]\d* functions, [1-9]\d* objects/);
    expect(leftovers(home).filter((f) => f.startsWith('buckets/') || f.startsWith('functions/'))).toEqual([]);
    expect(JSON.parse(cli(['list', '--json']).stdout)).toEqual([]);
  });
});

function functionsIn(home: string): string[] {
  try {
    return readdirSync(join(home, 'functions'));
  } catch {
    return [];
  }
}

/** Functions whose creation has finished (the local code store writes function.json last). */
function madeFunctionsIn(home: string): string[] {
  return functionsIn(home).filter((name) => existsSync(join(home, 'functions', name, 'function.json')));
}

describe('a conversion killed in the middle of PackageSegments', () => {
  let killHome: string;
  let clip: string;

  beforeAll(() => {
    killHome = tempDir('e2e-kill');
    clip = makeVideo(join(dir, 'interrupted talk.mp4'), { seconds: 12, size: '160x90' });
  });

  const run = (args: string[], env: Record<string, string> = {}) => cliIn(killHome, args, env);

  /** Starts a conversion with slow code-store calls and SIGKILLs it once some packages exist. */
  async function convertAndKill(file: string): Promise<string> {
    const before = new Set(functionsIn(killHome));
    const child = spawn(process.execPath, [CLI, 'convert', file, '--segment-seconds', '1'], {
      // One package per segment, each created slowly: a window to kill it in.
      env: { ...process.env, LAMBDA_HLS_HOME: killHome, LAMBDA_HLS_FAULTS: 'code.slow=1:150', LAMBDA_HLS_PACKAGE_BYTES: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let seen = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
    });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    // Kill once two new functions are complete: the Map runs several batches at once, so new
    // folders alone may all be creations just begun, with nothing in them yet.
    const deadline = Date.now() + 60_000;
    while (madeFunctionsIn(killHome).filter((f) => !before.has(f)).length < 2) {
      if (exited) throw new Error(`convert ended before it was killed: ${seen}`);
      if (Date.now() > deadline) throw new Error(`no packages made: ${seen}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    return seen;
  }

  const owned = () => leftovers(killHome).filter((f) => f.startsWith('buckets/') || f.startsWith('functions/'));

  it('completes when run again, and history shows the killed run as ABORTED in PackageSegments', async () => {
    await convertAndKill(clip);
    const videoId = JSON.parse(run(['convert', clip, '--json', '--segment-seconds', '1'], { LAMBDA_HLS_PACKAGE_BYTES: '1' }).stdout) as {
      videoId: string;
      status: string;
      segments: number;
      executionName: string;
    };
    expect(videoId).toMatchObject({ status: 'SUCCEEDED', segments: 12 });
    // The killed run is the first execution of that revision; the second has a -2 suffix.
    const killed = JSON.parse(run(['history', videoId.executionName.replace(/-2$/, ''), '--json']).stdout) as {
      status: string;
      error: { state: string };
    };
    expect(videoId.executionName).toMatch(/-2$/);
    expect(killed).toMatchObject({ status: 'ABORTED', error: { state: 'PackageSegments' } });
    // Nothing left over but what the killed writer had half-written (the rerun does not see those; gc does).
    const gc = JSON.parse(run(['gc', '--dry-run', '--json']).stdout) as { leftovers: string[] };
    expect(gc).toEqual({
      dryRun: true,
      functions: [],
      objects: [],
      leftovers: gc.leftovers.filter((o) => /\/(%tmp-|code\.zip\.|function\.json\.)[^/]+$/.test(o)),
      unreadable: [],
      busy: [],
      reservations: [],
    });
  });

  it('gc removes what a killed run left behind and reports it, keeping the registered video', async () => {
    const before = owned();
    await convertAndKill(makeVideo(join(dir, 'abandoned.mp4'), { seconds: 12, size: '160x90' }));
    const left = owned().filter((f) => !before.includes(f));
    expect(left.some((f) => f.startsWith('functions/'))).toBe(true);
    expect(left.some((f) => f.startsWith('buckets/work/'))).toBe(true);
    expect(left.some((f) => f.startsWith('buckets/input/'))).toBe(true);

    const dry = JSON.parse(run(['gc', '--dry-run', '--json']).stdout) as { functions: string[]; objects: string[]; leftovers: string[] };
    expect(dry.functions.length).toBeGreaterThan(0);
    expect(owned()).toEqual([...before, ...left].sort());

    const gc = run(['gc']);
    expect(gc.code).toBe(0);
    expect(gc.stderr).toMatch(
      new RegExp(`gc removed ${dry.functions.length} functions, ${dry.objects.length} objects and ${dry.leftovers.length} leftover`),
    );
    // Also the partial files and staged packages the killed writers left (of this run and of the earlier one).
    expect(owned()).toEqual(before.filter((f) => !/\/(%tmp-|code\.zip\.|function\.json\.)[^/]+$/.test(f)));
    const list = run(['list', '--json']);
    expect({ videos: (JSON.parse(list.stdout) as { videoId: string }[]).map((v) => v.videoId), gc: gc.stderr }).toEqual({
      videos: [localVideoIdOf(clip)],
      gc: expect.any(String),
    });
  });
});

describe('Ctrl-C, SIGTERM and SIGHUP during a conversion', () => {
  let stopHome: string;
  let clip: string;
  beforeAll(() => {
    stopHome = tempDir('e2e-stop');
    // Transcoded, so ffmpeg takes seconds rather than milliseconds and is still at work when stopped.
    clip = makeVideo(join(dir, 'stopped.mp4'), { seconds: 60, size: '320x180' });
  });

  /** The ffmpeg a process started, and whether it is stopped (state T: paused for back-pressure). */
  function ffmpegOf(pid: number): { pid: number; paused: boolean } | undefined {
    for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const [, comm = '', rest = ''] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? [];
        const [state, ppid] = rest.split(' ');
        if (Number(ppid) === pid && comm.startsWith('ffmpeg')) return { pid: Number(entry), paused: state === 'T' };
      } catch {
        // gone meanwhile
      }
    }
    return undefined;
  }

  function alive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); // a zombie has stopped
    } catch {
      return false;
    }
  }

  // Segment uploads are slowed, so ffmpeg gets ahead and is paused (SIGSTOP) by the back-pressure:
  // the hardest case, as a stopped process acts on no signal until it is resumed.
  it.each([
    ['SIGINT', 'to the whole process group, as Ctrl-C in a terminal', 130, 1],
    ['SIGTERM', 'to lambda-hls alone', 143, 1],
    ['SIGHUP', 'to lambda-hls alone (the terminal closed)', 129, 1],
    ['SIGINT', 'with two chunks encoding at once', 130, 2],
  ] as const)(
    '%s %s stops ffmpeg, removes its scratch and leaves the execution ABORTED',
    async (signal, _how, exitCode, concurrency) => {
      // Scratch space is in the home, beside the buckets; one waiting segment is enough to pause.
      // A transcode (slow enough to catch): SegmentMedia encodes the audio, the chunks' ffmpegs
      // then run in EncodeChunks, one at a time or two at once.
      const scratch = join(stopHome, 'scratch');
      const args = [CLI, 'convert', clip, '--segment-seconds', '1', '--transcode', '--json'];
      const child = spawn(process.execPath, args, {
        env: {
          ...process.env,
          LAMBDA_HLS_HOME: stopHome,
          LAMBDA_HLS_FAULTS: 'objects.slow=1:400',
          LAMBDA_HLS_SCRATCH_PENDING_BYTES: '1',
          LAMBDA_HLS_ENCODE_CONCURRENCY: String(concurrency),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // its own process group, as a terminal's foreground job
      });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      const deadline = Date.now() + 60_000;
      let ffmpeg = ffmpegOf(child.pid!);
      // A chunk's ffmpeg (SegmentMedia's, encoding the audio, is paused by the same back-pressure).
      while (!ffmpeg?.paused || !stderr.includes('ok      SegmentMedia')) {
        if (Date.now() > deadline) throw new Error(`ffmpeg was never paused: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
        ffmpeg = ffmpegOf(child.pid!);
      }
      const folders = readdirSync(scratch).filter((f) => f.startsWith('segment-'));
      expect(folders.length).toBeGreaterThanOrEqual(1);
      expect(folders.length).toBeLessThanOrEqual(concurrency);
      if (signal === 'SIGINT') process.kill(-child.pid!, 'SIGINT');
      else child.kill(signal);
      const started = Date.now();
      expect(await closed).toBe(exitCode);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(alive(ffmpeg.pid)).toBe(false);
      expect(readdirSync(scratch)).toEqual([]);
      expect(stderr).toMatch(new RegExp(`${signal} received: stopping`));
      const history = JSON.parse(cliIn(stopHome, ['history', localVideoIdOf(clip), '--json']).stdout) as { status: string; error: unknown };
      expect(history).toMatchObject({
        status: 'ABORTED',
        error: { state: 'EncodeChunks', error: 'Interrupted', cause: `stopped by ${signal}` },
      });
      // The input's link went with the run; what it made goes with gc.
      expect(leftovers(stopHome).filter((f) => f.startsWith('buckets/input/'))).toEqual([]);
      expect(JSON.parse(cliIn(stopHome, ['gc', '--json']).stdout)).toMatchObject({ leftovers: [], busy: [] });
      expect(leftovers(stopHome)).toEqual([]);
    },
    90_000,
  );
});

describe('a 24-hour video at 10-second segments fits one execution', () => {
  // 8,640 segments, as many as 24 h at 10 s: 2 h 24 min of a 64x64 picture at one frame per
  // second, every frame a keyframe, cut at 1 s. Tiny, so thousands of segments come quickly.
  // Packed one segment per package (LAMBDA_HLS_PACKAGE_BYTES=1), the worst case for the Map.
  const SEGMENTS = 8640;
  let longHome: string;
  let result: {
    status: string;
    videoId: string;
    executionName: string;
    playlist: string;
    segments: number;
    stats: { segments: number; packages: number; maxStatePayloadBytes: number; historyEvents: number };
  };

  const run = (args: string[]) => cliIn(longHome, args, {}, 300_000);

  beforeAll(() => {
    longHome = tempDir('e2e-long');
    const input = join(dir, 'day-long recording.mp4');
    ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=64x64:rate=1',
      '-t',
      String(SEGMENTS),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      '1',
      '-pix_fmt',
      'yuv420p',
      input,
    ]);
    const convert = cliIn(longHome, ['convert', input, '--segment-seconds', '1', '--json'], { LAMBDA_HLS_PACKAGE_BYTES: '1' }, 300_000);
    if (convert.code !== 0) throw new Error(`convert failed: ${convert.stdout} ${convert.stderr}`);
    result = JSON.parse(convert.stdout) as typeof result;
  }, 300_000);

  it('converts every segment, with each state within 256 KiB and the history within 25,000 events', () => {
    expect(result).toMatchObject({ status: 'SUCCEEDED', segments: SEGMENTS });
    expect(result.stats.segments).toBe(SEGMENTS);
    expect(result.stats.packages).toBe(SEGMENTS);
    expect(result.stats.maxStatePayloadBytes).toBeLessThanOrEqual(262_144);
    expect(result.stats.historyEvents).toBeLessThanOrEqual(25_000);
    // 6 Tasks × 5 events, Map 4, the Choice 2, execution 2, and 7 per batch of at most 8 packages.
    expect(result.stats.historyEvents).toBe(43 + 7 * Math.ceil(SEGMENTS / 8));
  });

  it('writes a valid playlist of 8,640 byte ranges, one package each', () => {
    const check = checkPlaylist(readFileSync(result.playlist, 'utf8'));
    expect(check.problems).toEqual([]);
    expect(check.segments).toHaveLength(SEGMENTS);
    expect(check.segments.reduce((sum, s) => sum + s.duration, 0)).toBeCloseTo(SEGMENTS, 0);
    expect(functionsIn(longHome)).toHaveLength(SEGMENTS);
    expect(checkEveryPlaylist(longHome)).toEqual({ checked: 1, problems: {} });
  });

  it('reports the same figures in history, and deletes the video with nothing left behind', () => {
    const history = JSON.parse(run(['history', result.videoId, '--json']).stdout) as { stats: unknown };
    expect(history.stats).toEqual(result.stats);
    expect(run(['delete', result.videoId]).code).toBe(0);
    expect(leftovers(longHome).filter((f) => f.startsWith('buckets/') || f.startsWith('functions/'))).toEqual([]);
  });
});

describe("bad inputs: a named error in the failed state, exit 1, nothing left behind, nothing of the user's lost", () => {
  let bad: string;
  let video: string;
  beforeAll(() => {
    bad = tempDir('e2e-bad');
    video = makeVideo(join(bad, 'source.mp4'), { seconds: 3 });
  });

  /** A copy of the sample video under another name. */
  const videoNamed = (name: string) => () => {
    const path = join(bad, name);
    writeFileSync(path, readFileSync(video));
    return path;
  };
  const text =
    (name: string, body = 'just some notes\n') =>
    () =>
      writeText(join(bad, name), body);
  const bytes = (name: string, data: Buffer) => () => {
    writeFileSync(join(bad, name), data);
    return join(bad, name);
  };

  type Case = [what: string, make: () => string, env: Record<string, string>, state: string, error: string];
  // One row per way a file goes wrong end to end; the many spellings of a name (no extension, `.mp4.`,
  // upper case…) are naming's unit tests.
  const cases: Case[] = [
    ['a video with a wrong extension (.avi)', videoNamed('holiday.avi'), {}, 'ValidateInput', 'UnsupportedExtension'],
    ['zero bytes (.mp4)', text('empty.mp4', ''), {}, 'ValidateInput', 'EmptyInput'],
    ['a text file named .mp4', text('notes.mp4'), {}, 'ValidateInput', 'NotMedia'],
    [
      'random bytes named .mp4',
      bytes('noise.mp4', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))),
      {},
      'ValidateInput',
      'NotMedia',
    ],
    [
      'a truncated mp4 (its index was at the end)',
      () => {
        const whole = readFileSync(video);
        return bytes('truncated.mp4', whole.subarray(0, whole.length >> 1))();
      },
      {},
      'ValidateInput',
      'TruncatedInput',
    ],
    [
      'a faststart mp4 cut short (its index first)',
      () => {
        const whole = readFileSync(makeVideo(join(bad, 'faststart.mp4'), { seconds: 3, movflags: '+faststart' }));
        return bytes('cut faststart.mp4', whole.subarray(0, Math.floor(whole.length * 0.6)))();
      },
      {},
      'SegmentMedia',
      'TruncatedInput',
    ],
    [
      'a PNG picture named .mp4',
      () => {
        const path = join(bad, 'picture.mp4');
        ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x64', '-frames:v', '1', '-f', 'image2', '-c:v', 'png', path]);
        return path;
      },
      {},
      'ValidateInput',
      'NotMedia',
    ],
    ['an mp3 that is really a WAV', () => makeWav(join(bad, 'tone.mp3'), 2), {}, 'ValidateInput', 'NotMedia'],
    ['an mp3 that is really text', text('lyrics.mp3'), {}, 'ValidateInput', 'NotMedia'],
    [
      'an mp3 that is only an ID3 tag',
      bytes('tags.mp3', Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1')),
      {},
      'ValidateInput',
      'NotMedia',
    ],
    ['an mp4 video named .mp3', videoNamed('clip.mp3'), {}, 'ValidateInput', 'NotMedia'],
    // An .mp3 file renamed (makeMp3 straight to song.mp4 would write MP3 audio in an MP4 container: audio-only, which converts).
    [
      'an mp3 named .mp4',
      () => {
        renameSync(makeMp3(join(bad, 'song.mp3'), 2), join(bad, 'song.mp4'));
        return join(bad, 'song.mp4');
      },
      {},
      'ValidateInput',
      'NotMedia',
    ],
    ['an input over the size limit', videoNamed('big.mp4'), { LAMBDA_HLS_MAX_INPUT_BYTES: '1000' }, 'ValidateInput', 'InputTooLarge'],
    [
      // The attack that took ffprobe and ffmpeg to 11 GB: an index declaring 80 million one-byte samples per track, no media.
      'an mp4 of 1.5 KB whose index declares 80 million samples in each track',
      () => {
        const crafted = declaringSamples(declaringSamples(readFileSync(video), 1, 80_000_000), 2, 80_000_000);
        return bytes(
          'crafted.mp4',
          rewriteBoxes(crafted, (path) => (path === 'mdat' ? boxOf('mdat', Buffer.alloc(0)) : undefined)),
        )();
      },
      {},
      'ValidateInput',
      'CorruptIndex',
    ],
    [
      'a memory limit ffprobe cannot start in',
      videoNamed('starved.mp4'),
      { LAMBDA_HLS_MEDIA_MEMORY_MB: '8' },
      'ValidateInput',
      'MediaTooDemanding',
    ],
    [
      'a function prefix that leaves no room for the names',
      videoNamed('prefix.mp4'),
      { LAMBDA_HLS_FUNCTION_PREFIX: 'a-much-too-long-service-name-for-the-production-stage-seg-' },
      'ValidateInput',
      'NameTooLong',
    ],
    [
      'more packages than the free code storage',
      videoNamed('quota.mp4'),
      { LAMBDA_HLS_CODE_QUOTA_BYTES: '10000' },
      'SegmentMedia',
      'CodeStorageQuotaExceeded',
    ],
    [
      'a segment larger than a package may hold',
      videoNamed('dense.mp4'),
      { LAMBDA_HLS_MAX_PACKAGE_BYTES: '5000' },
      'SegmentMedia',
      'SegmentTooLarge',
    ],
  ];

  function expectCleanFailure(home: string, file: string, original: Buffer, run: ReturnType<typeof cliIn>, state: string, error: string) {
    expect(run.code).toBe(1);
    const json = JSON.parse(run.stdout) as {
      status: string;
      executionName: string;
      playlist: unknown;
      error: { state: string; error: string; cause: string };
    };
    expect(json).toMatchObject({ status: 'FAILED', playlist: null, error: { state, error } });
    expect(json.error.cause.length).toBeGreaterThan(10);
    expect(json.error.cause).not.toMatch(/\n|at .*\.js:\d+/); // one line, no stack trace
    // The history names the same state and error, and shows that state FAILED.
    const history = JSON.parse(cliIn(home, ['history', json.executionName, '--json'], {}).stdout) as {
      status: string;
      error: { state: string; error: string };
      states: { state: string; status: string }[];
    };
    expect(history).toMatchObject({ status: 'FAILED', error: { state, error } });
    expect(history.states.find((s) => s.state === state)?.status).toBe('FAILED');
    expect(history.states.map((s) => s.state)).toContain('CleanUp');
    // Nothing half-made: no function, no object in any bucket; the user's file untouched.
    expect(leftovers(home)).toEqual([]);
    expect(readFileSync(file)).toEqual(original);
  }

  it.each(cases.map(([what, make, env, state, error]) => ({ what, make, env, state, error })))(
    '$what → $state $error',
    ({ make, env, state, error }) => {
      const home = tempDir('e2e-bad-home');
      const file = make();
      const original = readFileSync(file);
      const run = cliIn(home, ['convert', file, '--json', '--segment-seconds', '1'], env);
      expectCleanFailure(home, file, original, run, state, error);
    },
  );

  it('a 1 TiB input (sparse) → ValidateInput InputTooLarge, refused by its size without reading it first', () => {
    const home = tempDir('e2e-bad-home');
    const file = join(bad, 'huge.mp4');
    writeFileSync(file, '');
    truncateSync(file, 2 ** 40);
    const before = statSync(file);
    // Reading 1 TiB of holes to hash it takes many minutes; the size check needs none of it.
    const run = cliIn(home, ['convert', file, '--json'], {}, 60_000);
    expect([run.code, JSON.parse(run.stdout || '{}')]).toEqual([
      1,
      expect.objectContaining({ status: 'FAILED', error: expect.objectContaining({ state: 'ValidateInput', error: 'InputTooLarge' }) }),
    ]);
    expect(leftovers(home)).toEqual([]);
    expect([statSync(file).size, statSync(file).mtimeMs]).toEqual([before.size, before.mtimeMs]);
    rmSync(file);
  });

  it('an input that vanishes from the input bucket mid-run → SegmentMedia InputNotFound', async () => {
    const home = tempDir('e2e-bad-home');
    const file = videoNamed('vanishing.mp4')();
    const original = readFileSync(file);
    // Media calls are slowed down, so the input can be taken away between the probe and ffmpeg.
    const child = spawn(process.execPath, [CLI, 'convert', file, '--json', '--segment-seconds', '1'], {
      env: { ...process.env, LAMBDA_HLS_HOME: home, LAMBDA_HLS_FAULTS: 'media.slow=1:1500' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let seen = '';
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => {
      child.stderr!.on('data', (c: Buffer) => {
        seen += c.toString();
        if (/ok +ValidateInput/.test(seen)) rmSync(join(home, 'buckets', 'input', ...localKeyOf(file).split('/')), { force: true });
      });
      child.on('close', resolve);
    });
    expect(seen).toMatch(/ok +ValidateInput/);
    expectCleanFailure(home, file, original, { code, stdout, stderr: seen }, 'SegmentMedia', 'InputNotFound');
    expect(stdout).toMatch(/was deleted from the input bucket while it was being converted/);
  });
});

describe('unusual but valid names convert, and delete leaves nothing', () => {
  let odd: string;
  let video: string;
  beforeAll(() => {
    odd = tempDir('e2e-odd');
    video = makeVideo(join(odd, 'source.mp4'), { seconds: 2 });
  });

  const names = [
    'HOLIDAY.MP4',
    'Mixed Case.Mp4',
    'clip.mp3.mp4',
    'Ünïcødé 日本語 — clip.mp4',
    `${'long name '.repeat(25)}.mp4`.slice(-250),
    'a+b%20c&d=e?.mp4',
    '..\\..\\windows style path.mp4',
    '-starts-with-a-dash.mp4',
  ];

  it.each(names)('%s', (name) => {
    const home = tempDir('e2e-odd-home');
    const file = join(odd, name);
    writeFileSync(file, readFileSync(video));
    const r = cliIn(home, ['convert', '--json', '--segment-seconds', '1', '--', file]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { status: string; videoId: string; segments: number; playlist: string };
    expect(json).toMatchObject({ status: 'SUCCEEDED', segments: 2 });
    expect(json.videoId).toMatch(/^[a-z0-9-]{1,29}$/);
    expect(checkPlaylist(readFileSync(json.playlist, 'utf8')).problems).toEqual([]);
    expect(checkEveryPlaylist(home)).toEqual({ checked: 1, problems: {} });
    expect(cliIn(home, ['delete', json.videoId]).code).toBe(0);
    expect(leftovers(home)).toEqual([]);
  });
});

describe('two conversions of different videos at once against a code storage quota that holds one', () => {
  it('lets one store its packages and refuses the other before any function exists (CodeStorageQuotaExceeded), never over the quota', async () => {
    const home = tempDir('e2e-quota-home');
    const media = tempDir('e2e-quota-media');
    const first = makeVideo(join(media, 'first.mp4'), { seconds: 6, size: '320x180' });
    const second = join(media, 'second.mp4');
    writeFileSync(second, readFileSync(first));
    // Room for one video's packages and a half, nothing kept for other functions.
    const quota = Math.floor(readFileSync(first).length * 1.5);
    const env = { LAMBDA_HLS_CODE_QUOTA_BYTES: String(quota), LAMBDA_HLS_CODE_HEADROOM_PERCENT: '0' };
    const runs = await Promise.all([first, second].map((file) => cliAsync(home, ['convert', file, '--json'], env)));
    const results = runs.map((r) => JSON.parse(r.stdout) as { status: string; error?: { state: string; error: string } });
    expect(results.map((r) => r.status).sort()).toEqual(['FAILED', 'SUCCEEDED']);
    expect(results.find((r) => r.status === 'FAILED')!.error).toMatchObject({ state: 'SegmentMedia', error: 'CodeStorageQuotaExceeded' });
    const stored = functionsIn(home).reduce((sum, fn) => sum + statSync(join(home, 'functions', fn, 'code.zip')).size, 0);
    expect(stored).toBeLessThanOrEqual(quota);
    // The ledger holds no reservation once both have ended.
    const ledger = JSON.parse(readFileSync(join(home, 'buckets', 'work', 'quota', 'reservations.json'), 'utf8')) as {
      reservations: Record<string, unknown>;
    };
    expect(ledger.reservations).toEqual({});
  });
});

describe('two conversions of the same video at the same time', () => {
  let twinHome: string;
  let clip: string;
  beforeAll(() => {
    twinHome = tempDir('e2e-twins');
    clip = makeVideo(join(dir, 'twins.mp4'), { seconds: 6 });
  });

  /** Runs `convert` twice at once (code-store calls slowed so they overlap); both results. */
  async function both(first: string[], second: string[]) {
    const start = (args: string[]) => {
      const child = spawn(process.execPath, [CLI, 'convert', clip, '--json', ...args], {
        env: { ...process.env, LAMBDA_HLS_HOME: twinHome, LAMBDA_HLS_FAULTS: 'code.slow=1:40' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      return new Promise<{
        code: number | null;
        json: { status: string; videoId: string; executionName: string; playlist: string; segments: number };
        stderr: string;
      }>((resolve) => child.on('close', (code) => resolve({ code, json: JSON.parse(stdout || 'null'), stderr })));
    };
    return Promise.all([start(first), start(second)]);
  }

  function registered(videoId: string) {
    const route = JSON.parse(readFileSync(join(twinHome, 'buckets', 'output', 'routes', `${videoId}.json`), 'utf8')) as {
      revision: string;
      packages: string[];
      playlistKey: string;
      retired?: { revision: string; packages: string[] }[];
    };
    return route;
  }

  it('with the same options: one runs, the other waits and reports it, and the functions are those of the route', async () => {
    const [a, b] = await both(['--segment-seconds', '1'], ['--segment-seconds', '1']);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(a.json.videoId).toBe(b.json.videoId);
    expect(a.json.executionName).toBe(b.json.executionName);
    expect(readFileSync(a.json.playlist)).toEqual(readFileSync(b.json.playlist));
    // The one that waited (with --json nothing is printed about it) ran nothing.
    const history = JSON.parse(cliIn(twinHome, ['list', '--json']).stdout) as unknown[];
    expect(history).toHaveLength(1);
    const route = registered(a.json.videoId);
    expect(functionsIn(twinHome).sort()).toEqual([...route.packages].sort());
    expect(readdirSync(join(twinHome, 'executions')).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  it('with different options: they take turns, the later one is served, and the earlier one is kept only as retired', async () => {
    const [a, b] = await both(['--segment-seconds', '2'], ['--segment-seconds', '3']);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(a.json.videoId).toBe(b.json.videoId);
    expect(new Set([a.json.segments, b.json.segments])).toEqual(new Set([3, 2]));
    const route = registered(a.json.videoId);
    const served = [a, b].find((r) => r.json.executionName.includes(route.revision))!;
    expect(served).toBeDefined();
    expect(checkPlaylist(readFileSync(served.json.playlist, 'utf8')).segments).toHaveLength(served.json.segments);
    // The earlier one stays addressable for the grace period (a player may hold its playlist), and nothing else is left.
    const earlier = [a, b].find((r) => r !== served)!;
    expect(route.retired?.map((r) => r.revision)).toContain(earlier.json.executionName.split('-').pop());
    expect(functionsIn(twinHome).sort()).toEqual([...route.packages, ...(route.retired ?? []).flatMap((r) => r.packages)].sort());
    expect(checkEveryPlaylist(twinHome)).toEqual({ checked: 1, problems: {} });
    const gc = JSON.parse(cliIn(twinHome, ['gc', '--dry-run', '--json']).stdout) as unknown;
    expect(gc).toEqual({ dryRun: true, functions: [], objects: [], leftovers: [], unreadable: [], busy: [], reservations: [] });
  });

  it('says so when one waits for the other', async () => {
    const child = spawn(process.execPath, [CLI, 'convert', clip, '--segment-seconds', '4'], {
      env: { ...process.env, LAMBDA_HLS_HOME: twinHome, LAMBDA_HLS_FAULTS: 'code.slow=1:40' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // The second starts once the first holds the video's lock (and would otherwise run at once).
    const lock = join(twinHome, 'executions', `${localVideoIdOf(clip)}.lock`);
    for (const deadline = Date.now() + 30_000; !existsSync(lock); await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() > deadline) throw new Error('the first convert never took the lock');
    }
    const second = cliIn(twinHome, ['convert', clip, '--segment-seconds', '4']);
    await new Promise((r) => child.on('close', r));
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/waiting: another lambda-hls \(pid \d+\) is converting this file/);
    expect(second.stderr).toMatch(/already converted: nothing to do/);
  });
});

describe('lambda-hls convert with several files, and names that start with -', () => {
  let several: string;
  let files: string;
  beforeAll(() => {
    several = tempDir('e2e-several-home');
    files = tempDir('e2e-several-files');
  });

  it('converts each in turn, prints one JSON object per line in the order given, and exits with the worst status', () => {
    const first = makeVideo(join(files, 'first.mp4'), { seconds: 2 });
    const broken = writeText(join(files, 'broken.mp4'), 'not a video\n');
    const last = makeMp3(join(files, 'last.mp3'), 2);
    const run = cliIn(several, ['convert', first, broken, last, '--json']);
    expect(run.code).toBe(1);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { file: string; status: string; error?: { error: string } });
    expect(lines.map((l) => [l.file, l.status, l.error?.error])).toEqual([
      [first, 'SUCCEEDED', undefined],
      [broken, 'FAILED', 'NotMedia'],
      [last, 'SUCCEEDED', undefined],
    ]);
    const text = cliIn(several, ['convert', first, broken, last]);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain(`lambda-hls: converted 2 of 3 files; not converted: ${broken}`);
    expect(JSON.parse(cliIn(several, ['list', '--json']).stdout)).toHaveLength(2);
  });

  it('keeps two different IMG_0001.MP4 from two folders as two videos; the same file again replaces its own rendition, and says so', () => {
    const phone = tempDir('e2e-phone');
    const camera = tempDir('e2e-camera');
    const fromPhone = makeVideo(join(phone, 'IMG_0001.MP4'), { seconds: 2, size: '320x180' });
    const fromCamera = makeVideo(join(camera, 'IMG_0001.MP4'), { seconds: 3, size: '160x90' });
    const run = cliIn(several, ['convert', fromPhone, fromCamera, '--json']);
    expect(run.code).toBe(0);
    const [a, b] = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { videoId: string; segments: number });
    expect(a!.videoId).not.toBe(b!.videoId);
    expect([a!.videoId, b!.videoId]).toEqual([localVideoIdOf(fromPhone), localVideoIdOf(fromCamera)]);
    const listed = JSON.parse(cliIn(several, ['list', '--json']).stdout) as { videoId: string; durationSeconds: number }[];
    const duration = (id: string) => listed.find((v) => v.videoId === id)?.durationSeconds;
    expect(duration(a!.videoId)).toBeCloseTo(2, 0);
    expect(duration(b!.videoId)).toBeCloseTo(3, 0);

    // Through another spelling of the same path: the same video, its rendition replaced.
    const again = cliIn(several, ['convert', join(phone, '.', 'IMG_0001.MP4'), '--segment-seconds', '1']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`replacing: ${a!.videoId} was converted before .*revision [0-9a-f]{8}`));
    expect(again.stderr).toContain(`${a!.videoId} is ready`);
    const after = JSON.parse(cliIn(several, ['list', '--json']).stdout) as { videoId: string }[];
    expect(after.map((v) => v.videoId).sort()).toEqual(listed.map((v) => v.videoId).sort());
  });

  it('converts nothing when a name is not a file, and says which (exit 2)', () => {
    const first = makeVideo(join(files, 'fine.mp4'), { seconds: 1 });
    const run = cliIn(several, ['convert', first, join(files, 'typo.mp4')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${join(files, 'typo.mp4')}: no such file: nothing was converted`);
    expect(run.stderr).not.toContain('converting');
  });

  it('takes a file whose name starts with - after --, and suggests ./name when it is read as an option', () => {
    makeVideo(join(files, '-intro.mp4'), { seconds: 1 });
    const asOption = spawnSync(process.execPath, [CLI, 'convert', '-intro.mp4'], {
      cwd: files,
      encoding: 'utf8',
      env: { ...process.env, LAMBDA_HLS_HOME: several },
    });
    expect(asOption.status).toBe(2);
    expect(asOption.stderr).toContain("unknown option '-intro.mp4'");
    expect(asOption.stderr).toContain('(a file named -intro.mp4? write ./-intro.mp4, or put it after --)');
    const afterDashes = spawnSync(process.execPath, [CLI, 'convert', '--json', '--', '-intro.mp4'], {
      cwd: files,
      encoding: 'utf8',
      env: { ...process.env, LAMBDA_HLS_HOME: several },
    });
    expect(afterDashes.status).toBe(0);
    expect(JSON.parse(afterDashes.stdout)).toMatchObject({ file: '-intro.mp4', status: 'SUCCEEDED' });
  });
});
