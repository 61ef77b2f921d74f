// A video's poster and storyboard, judged against the source by Debian's ffmpeg (which we did not
// write): the poster is the source's frame at the time the run says it chose (PSNR), not the black
// first frame of a fade-in; the storyboard's cues cover the whole video one after another, and each
// tile is the source's frame at its cue's start. Served by `serve` as a player page fetches them.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliIn, serveHome } from '../support/cli';
import { ffmpeg, rotateMp4, testBinaries } from '../support/fixtures';
import { DECODER, decoderScratch } from '../support/outside-checks';

const scratch = decoderScratch('previews', 'the poster and storyboard checks');

/** PSNR (dB) of two pictures, the second scaled to the first's size, by Debian's ffmpeg. */
function psnr(a: string, b: string, filterOfB = 'null'): number {
  const result = spawnSync(
    DECODER,
    ['-hide_banner', '-i', a, '-i', b, '-lavfi', `[1:v]${filterOfB}[b];[0:v][b]scale2ref[x][y];[x][y]psnr`, '-f', 'null', '-'],
    { encoding: 'utf8' },
  );
  const match = /average:([0-9.]+|inf)/.exec(result.stderr);
  if (!match) throw new Error(`no PSNR: ${result.stderr.slice(-400)}`);
  return match[1] === 'inf' ? 100 : Number(match[1]);
}

/** The source's frame at `seconds` (an exact seek: decoded up to it), as a PNG, turned upright as players show it. */
function sourceFrame(source: string, seconds: number, out: string): string {
  const result = spawnSync(DECODER, [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-i',
    source,
    '-ss',
    String(seconds),
    '-frames:v',
    '1',
    out,
  ]);
  if (result.status !== 0) throw new Error(`no frame at ${seconds}: ${result.stderr}`);
  return out;
}

interface Cue {
  start: number;
  end: number;
  image: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

function parseVtt(text: string): Cue[] {
  const seconds = (t: string) => t.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
  const cues: Cue[] = [];
  const blocks = text.trim().split(/\n\n+/);
  expect(blocks[0]).toBe('WEBVTT');
  for (const block of blocks.slice(1)) {
    const [times, ref] = block.split('\n');
    const t = /^(\S+) --> (\S+)$/.exec(times!)!;
    const r = /^(.+)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(ref!)!;
    cues.push({ start: seconds(t[1]!), end: seconds(t[2]!), image: r[1]!, x: +r[2]!, y: +r[3]!, w: +r[4]!, h: +r[5]! });
  }
  return cues;
}

function convert(file: string) {
  const run = cliIn(scratch.home, ['convert', file, '--json'], {}, 300_000);
  expect([run.code, run.stderr.slice(-400)]).toEqual([0, expect.any(String)]);
  return JSON.parse(run.stdout) as { videoId: string; poster?: string; storyboard?: string; warnings: string[] };
}

function historyNote(videoId: string): string {
  const run = cliIn(scratch.home, ['history', videoId, '--json']);
  const states = (JSON.parse(run.stdout) as { states: { state: string; notes?: string[]; warnings?: string[] }[] }).states;
  const previews = states.find((s) => s.state === 'MakePreviews')!;
  return [...(previews.notes ?? []), ...(previews.warnings ?? [])].join('; ');
}

describe('a video fading in from black', () => {
  let source: string;
  let json: ReturnType<typeof convert>;
  beforeAll(() => {
    source = join(scratch.dir, 'fade.mp4');
    // 20 s, its first 3 s fading from black: the first frame is black, a tenth of the way in is not.
    ffmpeg([
      ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25,fade=in:0:75', '-f', 'lavfi', '-i', 'sine=sample_rate=48000'],
      ...['-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', source],
    ]);
    json = convert(source);
  }, 320_000);

  it('has a poster that is the source frame at the time it was chosen, not the black first frame', () => {
    expect(json.poster).toMatch(/poster\.jpg$/);
    const at = Number(/poster at ([0-9.]+) s/.exec(historyNote(json.videoId))![1]);
    expect(at).toBeGreaterThanOrEqual(2);
    expect(at).toBeLessThan(20);
    const frame = sourceFrame(source, at, join(scratch.dir, 'fade-poster-source.png'));
    expect(psnr(frame, json.poster!)).toBeGreaterThan(30);
    // A frame a second away is another picture (the test pattern moves): the match is the time's own.
    const other = sourceFrame(source, at + 1, join(scratch.dir, 'fade-poster-other.png'));
    expect(psnr(other, json.poster!)).toBeLessThan(psnr(frame, json.poster!) - 3);
    const black = sourceFrame(source, 0, join(scratch.dir, 'fade-first.png'));
    expect(psnr(black, json.poster!)).toBeLessThan(15);
  });

  it('has a storyboard whose cues cover the video one after another, each tile the frame at its start', () => {
    const cues = parseVtt(readFileSync(json.storyboard!, 'utf8'));
    expect(cues.length).toBeGreaterThanOrEqual(10);
    expect(cues[0]!.start).toBe(0);
    for (let i = 1; i < cues.length; i++) expect(cues[i]!.start).toBe(cues[i - 1]!.end);
    expect(cues.at(-1)!.end).toBeCloseTo(20, 0);
    const sprite = join(json.storyboard!, '..', cues[0]!.image);
    expect(existsSync(sprite)).toBe(true);
    // Each tile against the source's frame at its cue's start (the first's is its first keyframe, at 0).
    for (const cue of [cues[2]!, cues[Math.floor(cues.length / 2)]!, cues.at(-1)!]) {
      const frame = sourceFrame(source, cue.start, join(scratch.dir, `tile-${cue.start}.png`));
      expect([cue.start, psnr(frame, sprite, `crop=${cue.w}:${cue.h}:${cue.x}:${cue.y}`)]).toEqual([cue.start, expect.any(Number)]);
      expect(psnr(frame, sprite, `crop=${cue.w}:${cue.h}:${cue.x}:${cue.y}`)).toBeGreaterThan(22);
    }
  });

  it('serves the poster, the track and its sprite as a page fetches them', async () => {
    const server = await serveHome(scratch.home);
    try {
      const revision = /\/v\/[^/]+\/([^/]+)\/storyboard\.vtt$/.exec(json.storyboard!)![1]!;
      const poster = await fetch(`${server.baseUrl}/v/${json.videoId}/poster.jpg`);
      expect([poster.status, poster.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
      expect(Buffer.from(await poster.arrayBuffer()).equals(readFileSync(json.poster!))).toBe(true);
      const track = await fetch(`${server.baseUrl}/v/${json.videoId}/${revision}/storyboard.vtt`);
      expect([track.status, track.headers.get('content-type')]).toEqual([200, 'text/vtt; charset=utf-8']);
      const image = parseVtt(await track.text())[0]!.image;
      const sprite = await fetch(new URL(image, `${server.baseUrl}/v/${json.videoId}/${revision}/storyboard.vtt`));
      expect([sprite.status, sprite.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
      // The hosted page shows the poster and names it for link previews by its absolute URL.
      const page = await (await fetch(`${server.baseUrl}/watch/${json.videoId}`)).text();
      expect(page).toContain(`"poster":"/v/${json.videoId}/poster.jpg"`);
      expect(page).toContain(`<meta property="og:image" content="${server.baseUrl}/v/${json.videoId}/poster.jpg">`);
      // The `serve` page's list gives each video's poster, which it shows until the first frame.
      const listed = (await (await fetch(`${server.baseUrl}/api/videos`)).json()) as { videoId: string; poster?: string }[];
      expect(listed.find((v) => v.videoId === json.videoId)?.poster).toBe(`/v/${json.videoId}/poster.jpg`);
      // Only what is registered: another revision's storyboard is not there.
      expect((await fetch(`${server.baseUrl}/v/${json.videoId}/abcd1234/storyboard.vtt`)).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});

it('turns a rotated phone video upright in its poster and tiles', () => {
  const file = join(scratch.dir, 'portrait.mp4');
  ffmpeg([
    ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', '6'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', file],
  ]);
  rotateMp4(file, 90);
  const json = convert(file);
  const size = (path: string) => {
    const probe = spawnSync(
      join(DECODER, '..', 'ffprobe'),
      ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', path],
      {
        encoding: 'utf8',
      },
    );
    return probe.stdout.trim();
  };
  expect(size(json.poster!)).toBe('360,640');
  const cue = parseVtt(readFileSync(json.storyboard!, 'utf8'))[0]!;
  expect([cue.w, cue.h]).toEqual([90, 160]);
});

it('gives a sound file no poster, and says nothing of it', () => {
  const file = join(scratch.dir, 'song.mp3');
  ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=44100', '-t', '4', '-c:a', 'libmp3lame', file]);
  const json = convert(file);
  expect(json.poster).toBeUndefined();
  expect(json.storyboard).toBeUndefined();
  expect(json.warnings).toEqual([]);
});

it('converts a video whose pictures ffmpeg cannot make, says why, and leaves none of them', () => {
  const file = join(scratch.dir, 'no-pictures.mp4');
  ffmpeg([
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '4'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', file],
  ]);
  // The product's ffmpeg, which makes segments but fails every picture run (a poster's thumbnail filter, a storyboard's select).
  const wrapper = join(scratch.dir, 'ffmpeg-without-pictures');
  writeFileSync(
    wrapper,
    `#!/bin/sh\ncase "$*" in *thumbnail=n=*|*selected_n*) echo "Error: no pictures today" >&2; exit 1;; esac\nexec "${testBinaries().ffmpeg}" "$@"\n`,
    { mode: 0o755 },
  );
  const run = cliIn(scratch.home, ['convert', file, '--json'], { FFMPEG_PATH: wrapper }, 300_000);
  expect([run.code, run.stderr.slice(-300)]).toEqual([0, expect.any(String)]);
  const json = JSON.parse(run.stdout) as { videoId: string; poster?: string; warnings: string[]; playlist: string };
  expect(json.poster).toBeUndefined();
  expect(json.warnings).toEqual([expect.stringMatching(/^no poster or storyboard: ffmpeg could not make the poster: .*no pictures today/)]);
  const revisionDir = join(json.playlist, '..');
  expect(['poster.jpg', 'storyboard.jpg', 'storyboard.vtt'].filter((f) => existsSync(join(revisionDir, f)))).toEqual([]);
});
