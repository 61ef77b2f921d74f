// The player page in a real browser: Debian's chromium driven by playwright-core plays a video
// with sound and an mp3 to their ends through the 302s and byte ranges, and a seek lands in a
// later package. A screenshot of the page is kept in artifacts/ for CI.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { checkPlaylist } from '../../src/core/playlist';
import { readRoute } from '../../src/registry/routes';
import { convertFile, type ConvertResult } from '../../cli/convert';
import { startServer } from '../../cli/server';
import { launchChromium, playedToEnd, type PlayerState, seekAndResume } from '../support/browser';
import { freshBackend, makeMp3, makeVideo, tempDir, testBinaries } from '../support/fixtures';

type PageWindow = { lambdaHls: PlayerState & { play(id: string): boolean } };

const ARTIFACTS = join(__dirname, '..', '..', 'artifacts');

let ports: ReturnType<typeof freshBackend>;
let server: Awaited<ReturnType<typeof startServer>>;
/** What the server answered: `<method> <url> <status>`. */
const served: string[] = [];
let browser: Browser;
let page: Page;
let video: ConvertResult;
let song: ConvertResult;
let long: ConvertResult;
let videoSource: string;
let songSource: string;
let longSource: string;

function probe(args: string[]): string {
  const result = spawnSync(testBinaries().ffprobe, ['-v', 'error', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}
const durationOf = (file: string) => Number(probe(['-show_entries', 'format=duration', '-of', 'csv=p=0', file]));
const framesOf = (file: string) =>
  Number(probe(['-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]));

/** The local page's list, played to the end of one video. */
const playToEnd = (videoId: string) => playedToEnd(page, videoId);

beforeAll(async () => {
  const dir = tempDir('browser');
  videoSource = makeVideo(join(dir, 'clip with sound.mp4'), { seconds: 10, size: '640x360' });
  songSource = makeMp3(join(dir, 'song.mp3'), 6);
  // Longer than hls.js buffers ahead (30 s), so a seek to its middle must fetch.
  longSource = makeVideo(join(dir, 'two minutes.mp4'), { seconds: 120, size: '320x180' });
  // Small packages, so the video spans several and a seek must fetch a later one.
  ports = freshBackend({ packageBytes: 400_000 });
  const options = { segmentSeconds: 2, profile: 'source' as const, ladder: 'source' as const };
  video = await convertFile(videoSource, { backend: ports, options });
  song = await convertFile(songSource, { backend: ports, options });
  long = await convertFile(longSource, { backend: ports, options });
  server = await startServer({ backend: ports, log: (line) => served.push(line) });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => (window as unknown as Partial<PageWindow>).lambdaHls?.ready === true);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the player page in chromium', () => {
  it('lists the conversions with duration, segment and package counts', async () => {
    expect([video.status, song.status, long.status]).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    const items = await page.locator('#videos button').allInnerTexts();
    expect(items).toHaveLength(3);
    const route = await readRoute(ports.objects, video.videoId);
    expect(route!.packages.length).toBeGreaterThan(1);
    const line = items.find((t) => t.includes('clip with sound.mp4'))!;
    expect(line).toContain('0:10');
    expect(line).toContain(`${video.segments} segments`);
    expect(line).toContain(`${route!.packages.length} packages`);
    expect(items.find((t) => t.includes('song.mp3'))).toMatch(/audio · 0:06 · \d+ segments · 1 package/);
  });

  it('plays the video to its end: no fatal error, the whole duration, over 90% of the frames decoded', async () => {
    const result = await playToEnd(video.videoId);
    expect(result.fatal).toBeNull();
    expect(result.ended).toBe(true);
    expect(Math.abs(result.currentTime - durationOf(videoSource))).toBeLessThanOrEqual(0.5);
    expect(result.decodedFrames!).toBeGreaterThan(0.9 * framesOf(videoSource));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'player-page.png') });
  });

  it('plays the mp3 to its end', async () => {
    const result = await playToEnd(song.videoId);
    expect(result.fatal).toBeNull();
    expect(result.ended).toBe(true);
    expect(Math.abs(result.currentTime - durationOf(songSource))).toBeLessThanOrEqual(0.5);
    expect(await page.locator('#status').textContent()).toBe('Finished.');
  });

  it('seeks to the middle and resumes there, fetching a later package by byte range', async () => {
    const playlist = checkPlaylist(
      (await ports.objects.get('output', (await readRoute(ports.objects, long.videoId))!.playlistKey)).toString(),
    );
    const middle = durationOf(longSource) / 2;
    let start = 0;
    const target = playlist.segments.find((s) => {
      start += s.duration;
      return start > middle;
    })!;
    expect(target.uri).not.toBe(playlist.segments[0]!.uri); // the middle lives in a later package

    const fetched: { url: string; range?: string }[] = [];
    served.length = 0;
    page.on('request', (request) => fetched.push({ url: request.url(), range: request.headers().range }));
    await page.evaluate((id) => {
      const state = (window as unknown as PageWindow).lambdaHls;
      state.play(id);
      return new Promise<void>((resolve) => state.element.addEventListener('playing', () => resolve(), { once: true }));
    }, long.videoId);
    fetched.length = 0;
    const resumed = await seekAndResume(page, middle);
    expect(Math.abs(resumed.seekedAt - middle)).toBeLessThan(0.5);
    expect(resumed.later).toBeGreaterThan(middle + 0.5);
    // The redirect for the middle's package, then a ranged read of exactly its bytes.
    expect(fetched.some((f) => f.url.endsWith(`/v/${long.videoId}/${target.uri}`))).toBe(true);
    const expected = `bytes=${target.offset}-${target.offset! + target.length! - 1}`;
    // hls.js asked for exactly the segment's bytes of the middle's package; the browser followed the
    // 302 with that range and the code URL answered 206 (Partial Content).
    expect(fetched.some((f) => f.url.endsWith(`/${target.uri}`) && f.range === expected)).toBe(true);
    const fn = (await readRoute(ports.objects, long.videoId))!.packages[Number(target.uri.replace(/^.*\//, '').replace('.ts', ''))]!;
    expect(served.some((line) => line.startsWith(`GET /code/${fn}.zip?`) && line.endsWith(' 206'))).toBe(true);
  });

  it('says Buffering… while a stall or an unfilled seek waits for data, and Playing. again once it has it', async () => {
    await page.evaluate((id) => {
      const state = (window as unknown as PageWindow).lambdaHls;
      state.play(id);
      return new Promise<void>((resolve) => state.element.addEventListener('playing', () => resolve(), { once: true }));
    }, long.videoId);
    expect(await page.locator('#status').textContent()).toBe('Playing.');
    // A link too slow for the next segment (DevTools' network emulation), then a seek past what is buffered.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 200,
      downloadThroughput: 2_000,
      uploadThroughput: 2_000,
    });
    try {
      await page.evaluate((at) => {
        (window as unknown as PageWindow).lambdaHls.element.currentTime = at;
      }, durationOf(longSource) * 0.75);
      await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Buffering…', undefined, { timeout: 30_000 });
    } finally {
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    }
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Playing.', undefined, { timeout: 30_000 });
    await page.evaluate(() => (window as unknown as PageWindow).lambdaHls.element.pause());
  });

  it('says in words when a stream cannot be played', async () => {
    // A registered video whose playlist has gone (never played, so no cache holds it): hls.js
    // fails to load the manifest, and the page says so.
    const broken = await convertFile(makeMp3(join(tempDir('browser'), 'broken.mp3'), 2), {
      backend: ports,
      options: { segmentSeconds: 2, profile: 'source', ladder: 'source' },
    });
    await ports.objects.delete('output', (await readRoute(ports.objects, broken.videoId))!.playlistKey);
    await page.reload();
    await page.waitForFunction(() => (window as unknown as Partial<PageWindow>).lambdaHls?.ready === true);
    await page.evaluate((id) => (window as unknown as PageWindow).lambdaHls.play(id), broken.videoId);
    await page.waitForFunction(() => document.querySelector('#status')?.classList.contains('error'), undefined, { timeout: 30_000 });
    expect(await page.locator('#status').textContent()).toMatch(/could not be downloaded \(manifestLoadError\): HTTP 404\./);
  });
});
