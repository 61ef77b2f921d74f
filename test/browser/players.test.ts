// The browser players, with the package URLs on a second origin that sends no CORS headers — as
// AWS's code bucket does. The local server is started with that switch; its page must choose the
// delivery route (the proxied playlist), and every web player must play through it: hls.js (the
// page), Chromium's built-in HLS (the page with ?engine=native), Shaka Player and video.js/VHS
// (pages of their own on a third origin, reading the proxied playlist across origins with CORS).
// Each plays to its end and after a seek. And the redirect playlist is shown to fail there, which
// is why the choice exists.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { convertFile, type ConvertResult } from '../../cli/convert';
import { startServer } from '../../cli/server';
import { launchChromium, shakaPage, playedToEnd, type PlayerState, seekAndResume } from '../support/browser';
import { framesOf, PLAYER } from '../support/player';
import { freshBackend, makeVideo, tempDir } from '../support/fixtures';

let server: Awaited<ReturnType<typeof startServer>>;
let players: Server;
let playersUrl: string;
let browser: Browser;
let video: ConvertResult;
let source: string;
let sourceFrames: number;
/** What the servers answered: `<method> <url> <status>`. */
const served: string[] = [];

const LIBRARIES: Record<string, string> = {
  '/shaka-player.js': require.resolve('shaka-player/dist/shaka-player.compiled.js'),
  '/video.js': require.resolve('video.js/dist/video.min.js'),
};

/** A page that plays `src` with video.js and its VHS engine (not the browser's native HLS). */
function videojsPage(src: string): string {
  return `<!doctype html><meta charset="utf-8"><video id="v" class="video-js" controls muted width="640" height="360"></video>
<script src="/video.js"></script><script>
var player = videojs('v', { html5: { vhs: { overrideNative: true }, nativeAudioTracks: false, nativeVideoTracks: false } });
var state = { element: player.el().querySelector('video'), fatal: null };
window.lambdaHls = state;
player.on('error', function () { state.fatal = 'videojs:' + (player.error() && player.error().code); });
player.src({ src: ${JSON.stringify(src)}, type: 'application/x-mpegURL' });
player.ready(function () { state.ready = true; player.play(); });
</script>`;
}

beforeAll(async () => {
  const dir = tempDir('browser-players');
  source = makeVideo(join(dir, 'matrix clip.mp4'), { seconds: 8, size: '640x360' });
  sourceFrames = await framesOf(PLAYER, source);
  // Small packages, so the clip spans several and a seek fetches a later one.
  const backend = freshBackend({ packageBytes: 300_000 });
  video = await convertFile(source, { backend, options: { segmentSeconds: 2, profile: 'source' } });
  server = await startServer({ backend, separateCodeOrigin: true, log: (line) => served.push(line) });
  // The third-party players' pages, on an origin of their own.
  players = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://players');
    const library = LIBRARIES[url.pathname];
    if (library) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(readFileSync(library));
      return;
    }
    const src = url.searchParams.get('src') ?? '';
    const page = url.pathname === '/shaka' ? shakaPage(src) : url.pathname === '/videojs' ? videojsPage(src) : undefined;
    res.writeHead(page ? 200 : 404, { 'Content-Type': 'text/html' }).end(page ?? 'not found');
  });
  await new Promise<void>((resolve) => players.listen(0, '127.0.0.1', resolve));
  playersUrl = `http://127.0.0.1:${(players.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await new Promise((resolve) => players?.close(resolve));
});

async function open(url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { lambdaHls?: PlayerState }).lambdaHls?.ready === true, undefined, {
    timeout: 30_000,
  });
  return page;
}

/** Plays to the end (over 90 % of the frames decoded, no fatal error), then seeks to the middle and plays on. */
async function playsToEndAndAfterASeek(page: Page, videoId?: string): Promise<void> {
  const result = await playedToEnd(page, videoId);
  expect(result).toMatchObject({ ended: true, fatal: null });
  expect(result.currentTime).toBeGreaterThan(7.5);
  expect(result.decodedFrames!).toBeGreaterThan(0.9 * sourceFrames);
  const resumed = await seekAndResume(page, 4);
  expect(Math.abs(resumed.seekedAt - 4)).toBeLessThan(0.5);
  expect(resumed.later).toBeGreaterThan(4.5);
}

const proxied = () => `${server.url}/proxy/v/${video.videoId}/index.m3u8`;

describe('web players with the package URLs on an origin without CORS (as in AWS)', () => {
  it('the page chooses hls.js and the proxied playlist, and plays to the end and after a seek; no package URL is read by the browser', async () => {
    const page = await open(`${server.url}/`);
    const fetched: string[] = [];
    page.on('request', (request) => fetched.push(request.url()));
    await playsToEndAndAfterASeek(page, video.videoId);
    expect(await page.evaluate(() => (window as unknown as { lambdaHls: PlayerState }).lambdaHls.choice)).toMatchObject({
      engine: 'hls.js',
      source: 'proxied',
    });
    expect(fetched.filter((url) => url.includes('/code/'))).toEqual([]);
    expect(fetched.some((url) => url.startsWith(`${server.url}/proxy/v/${video.videoId}/`) && url.endsWith('.ts'))).toBe(true);
    await page.close();
  });

  it("Chromium's built-in HLS player (?engine=native) plays the proxied playlist to the end and after a seek", async () => {
    const page = await open(`${server.url}/?engine=native`);
    await playsToEndAndAfterASeek(page, video.videoId);
    expect(await page.evaluate(() => (window as unknown as { lambdaHls: PlayerState }).lambdaHls.choice)).toMatchObject({
      engine: 'native',
      source: 'proxied',
    });
    await page.close();
  });

  it('Shaka Player, on a page of another origin, plays the proxied playlist to the end and after a seek', async () => {
    const page = await open(`${playersUrl}/shaka?src=${encodeURIComponent(proxied())}`);
    await playsToEndAndAfterASeek(page);
    await page.close();
  });

  it('video.js with VHS, on a page of another origin, plays the proxied playlist to the end and after a seek', async () => {
    const page = await open(`${playersUrl}/videojs?src=${encodeURIComponent(proxied())}`);
    await playsToEndAndAfterASeek(page);
    await page.close();
  });

  it('Shaka Player given the redirect playlist fails there (HTTP error 1002): the reason the proxied one exists', async () => {
    const page = await open(`${playersUrl}/shaka?src=${encodeURIComponent(`${server.url}/v/${video.videoId}/index.m3u8`)}`);
    await page.waitForFunction(() => (window as unknown as { lambdaHls: PlayerState }).lambdaHls.fatal !== null, undefined, {
      timeout: 30_000,
    });
    // Shaka's HTTP error (1002): the browser refused it the package URL's bytes.
    expect(await page.evaluate(() => (window as unknown as { lambdaHls: PlayerState }).lambdaHls.fatal)).toBe('shaka:1002');
    await page.close();
  });
});
