// Captions in Debian's chromium: a video converted with a SubRip file beside it and a mov_text
// track of its own has two subtitle renditions; each web player shows a cue while its moment
// plays and not after — hls.js (the hosted page), Shaka Player (a page of its own on another
// origin, reading the proxied playlist across origins) and Chromium's own HLS (?engine=native),
// each through the text tracks of the <video> element. A cue that crosses a segment's cut (it is in
// both WebVTT segments) is shown once. A screenshot of the page showing a cue stays in
// artifacts/captions-page.png.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { convertFile, type ConvertResult } from '../../cli/convert';
import { startServer } from '../../cli/server';
import { launchChromium, shakaPage } from '../support/browser';
import { freshBackend, makeCaptionedVideo, tempDir } from '../support/fixtures';

/** The cues a text track of the page's <video> holds, and those it shows now. */
interface TrackView {
  label: string;
  language: string;
  mode: string;
  cues: { start: number; end: number; text: string }[];
  active: string[];
}

const SIDECAR = `1
00:00:02,000 --> 00:00:04,000
Hello from the sidecar

2
00:00:05,000 --> 00:00:07,500
Across the <i>cut</i>
`;

let server: Awaited<ReturnType<typeof startServer>>;
let players: Server;
let playersUrl: string;
let browser: Browser;
let video: ConvertResult;

beforeAll(async () => {
  const dir = tempDir('browser-captions');
  const source = makeCaptionedVideo(join(dir, 'talk.mp4'), {
    seconds: 14,
    size: '640x360',
    srt: '1\n00:00:09,000 --> 00:00:11,000\nGuten Tag\n',
    language: 'deu',
  });
  writeFileSync(join(dir, 'talk.en.srt'), SIDECAR);
  const backend = freshBackend();
  video = await convertFile(source, { backend, options: { segmentSeconds: 6, profile: 'source', ladder: 'auto' } });
  expect(video.status).toBe('SUCCEEDED');
  expect(video.captions?.map((c) => [c.language, c.name])).toEqual([
    ['en', 'English'],
    ['de', 'Deutsch'],
  ]);
  server = await startServer({ backend });
  // Shaka Player on an origin of its own: it reads the proxied playlist and its subtitles across origins (CORS).
  const shaka = readFileSync(require.resolve('shaka-player/dist/shaka-player.compiled.js'));
  players = createServer((req, res) => {
    if (req.url === '/shaka-player.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(shaka);
    else
      res
        .writeHead(200, { 'Content-Type': 'text/html' })
        .end(shakaPage(`${server.url}/proxy/v/${video.videoId}/index.m3u8`, { play: false }));
  });
  await new Promise<void>((resolve) => players.listen(0, '127.0.0.1', resolve));
  playersUrl = `http://127.0.0.1:${(players.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await new Promise((resolve) => players?.close(resolve));
});

/** Every text track of the page's <video>: its label, language, cues and the cues it shows now. */
function tracksOf(page: Page): Promise<TrackView[]> {
  return page.evaluate(() => {
    const el = (window as unknown as { lambdaHls: { element: HTMLVideoElement } }).lambdaHls.element;
    return Array.from(el.textTracks).map((t) => ({
      label: t.label,
      language: t.language,
      mode: t.mode,
      cues: Array.from(t.cues ?? []).map((c) => ({ start: c.startTime, end: c.endTime, text: (c as VTTCue).text })),
      active: Array.from(t.activeCues ?? []).map((c) => (c as VTTCue).text),
    }));
  });
}

/** Pauses at `at` seconds and waits until the element has shown that moment. */
async function pauseAt(page: Page, at: number): Promise<void> {
  await page.evaluate(async (time) => {
    const el = (window as unknown as { lambdaHls: { element: HTMLVideoElement } }).lambdaHls.element;
    el.pause();
    el.currentTime = time;
    await new Promise<void>((resolve) => el.addEventListener('seeked', () => resolve(), { once: true }));
    // activeCues follow currentTime on the next time update.
    await new Promise((resolve) => setTimeout(resolve, 300));
  }, at);
}

/**
 * Opens a player's page, turns on the English track (as a viewer does from the menu) and checks
 * what it shows: the cue of each moment while it plays, none after; the cue across the 6-s cut once.
 */
async function checkPlayer(url: string, select: (page: Page) => Promise<void>, timeline: 'picture' | 'either' = 'picture'): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { lambdaHls?: { ready?: boolean } }).lambdaHls?.ready === true, undefined, {
    timeout: 60_000,
  });
  expect(await page.evaluate(() => (window as unknown as { lambdaHls: { fatal: string | null } }).lambdaHls.fatal)).toBeNull();
  await select(page);
  // Where the picture starts on the element's timeline: the start of what it buffered from 0 (with
  // MSE, where both picture and sound are), read before any seek leaves a range elsewhere.
  const pictureStart = await page.evaluate(async () => {
    const el = (window as unknown as { lambdaHls: { element: HTMLVideoElement } }).lambdaHls.element;
    el.muted = true;
    await el.play();
    while (el.currentTime < 0.5) await new Promise((resolve) => setTimeout(resolve, 50));
    el.pause();
    return el.buffered.start(0);
  });
  // Its cues come as the player reaches their segments.
  await pauseAt(page, 3);
  await page.waitForFunction(
    () => {
      const el = (window as unknown as { lambdaHls: { element: HTMLVideoElement } }).lambdaHls.element;
      return Array.from(el.textTracks).some((t) => t.mode === 'showing' && (t.activeCues?.length ?? 0) > 0);
    },
    undefined,
    { timeout: 30_000, polling: 250 },
  );
  const english = () => tracksOf(page).then((tracks) => tracks.find((t) => t.mode === 'showing' && t.cues.length > 0)!);
  expect((await english()).active).toEqual(['Hello from the sidecar']);
  await pauseAt(page, 6.5);
  await page.waitForFunction(
    () => {
      const el = (window as unknown as { lambdaHls: { element: HTMLVideoElement } }).lambdaHls.element;
      return Array.from(el.textTracks).some((t) => Array.from(t.activeCues ?? []).some((c) => (c as VTTCue).text.includes('cut')));
    },
    undefined,
    { timeout: 30_000, polling: 250 },
  );
  await pauseAt(page, 8);
  const shown = await english();
  expect(shown.active).toEqual([]);
  // Each cue once (the one across the cut is in two segments), at its time on the picture's: a
  // player's timeline may put 0 before the first picture (hls.js: at the sound's first timestamp,
  // 80 ms earlier here), and the cue moves with it, so the cue at 0:02 shows with the picture the
  // source shows at 2 s. Where the picture starts is where the element's buffered range does (with
  // MSE, where both picture and sound are).
  // Shaka (see its test) puts them with the picture, or at its timeline's 0, from run to run.
  const shakaAtZero = timeline === 'either' && Math.abs(shown.cues[0]!.start - 2) < 0.005;
  const picture = shakaAtZero ? 0 : pictureStart;
  const cues = shown.cues.map((c) => ({ text: c.text.replace(/<\/?i>/g, ''), start: c.start - picture, end: c.end - picture }));
  expect(cues.map((c) => c.text)).toEqual(['Hello from the sidecar', 'Across the cut']);
  expect(cues[0]!.start).toBeCloseTo(2, 2);
  expect(cues[0]!.end).toBeCloseTo(4, 2);
  expect(cues[1]!.start).toBeCloseTo(5, 2);
  expect(cues[1]!.end).toBeCloseTo(7.5, 2);
  return page;
}

it('hls.js on the hosted page shows each cue while its moment plays, and names both tracks', async () => {
  const page = await checkPlayer(`${server.url}/watch/${video.videoId}?autoplay=0`, async (p) => {
    await p.evaluate(() => {
      const state = (window as unknown as { lambdaHls: { choice: { hls: { subtitleTracks: { lang: string }[]; subtitleTrack: number } } } })
        .lambdaHls;
      const { hls } = state.choice;
      hls.subtitleTrack = hls.subtitleTracks.findIndex((t) => t.lang === 'en');
    });
  });
  const tracks = await tracksOf(page);
  expect(tracks.map((t) => [t.label, t.language])).toEqual([
    ['English', 'en'],
    ['Deutsch', 'de'],
  ]);
  // The German track is the source's own mov_text: its cue at 0:09.
  await page.evaluate(() => {
    const state = (window as unknown as { lambdaHls: { choice: { hls: { subtitleTracks: { lang: string }[]; subtitleTrack: number } } } })
      .lambdaHls;
    state.choice.hls.subtitleTrack = state.choice.hls.subtitleTracks.findIndex((t) => t.lang === 'de');
  });
  await pauseAt(page, 10);
  await page.waitForFunction(
    () => {
      const el = (window as unknown as { lambdaHls: { element: HTMLVideoElement } }).lambdaHls.element;
      return Array.from(el.textTracks).some((t) => Array.from(t.activeCues ?? []).some((c) => (c as VTTCue).text === 'Guten Tag'));
    },
    undefined,
    { timeout: 30_000, polling: 250 },
  );
  // Paused by the test, and the status line says so (it said Playing. while paused before).
  expect(await page.locator('#status').textContent()).toMatch(/^Paused( · \d+p( \(auto\))?)?\.$/);
  // The page as a viewer sees it: the cue over the picture, and the storyboard's tile above the scrub bar under the pointer.
  const bar = (await page.locator('#scrub').boundingBox())!;
  await page.mouse.move(bar.x + bar.width * 0.3, bar.y + bar.height / 2);
  await page.waitForFunction(() => !document.getElementById('preview')!.hidden, undefined, { timeout: 30_000, polling: 250 });
  mkdirSync('artifacts', { recursive: true });
  await page.screenshot({ path: join('artifacts', 'captions-page.png') });
  await page.close();
});

// Shaka 5.2 puts the picture 80 ms after its timeline's 0 (where the sound starts) and places the
// cues by X-TIMESTAMP-MAP either with the picture (as hls.js does) or — in about one run of three
// here — as if the picture were at 0, so its cues show 80 ms early. The same segments and map
// give hls.js the first every time: Shaka's own order of parsing, not the playlists. Both are
// taken, each exactly.
it('Shaka Player shows them from the proxied playlist on another origin', async () => {
  const page = await checkPlayer(
    playersUrl,
    async (p) => {
      await p.evaluate(() => {
        const player = (
          window as unknown as { lambdaHls: { shaka: { getTextTracks(): { language: string }[]; selectTextTrack(t: unknown): void } } }
        ).lambdaHls.shaka;
        player.selectTextTrack(player.getTextTracks().find((t) => t.language === 'en'));
      });
    },
    'either',
  );
  await page.close();
});

it("Chromium's own HLS player shows them as the element's text tracks", async () => {
  const page = await checkPlayer(`${server.url}/watch/${video.videoId}?autoplay=0&engine=native`, async (p) => {
    await p.waitForFunction(
      () => Array.from((window as unknown as { lambdaHls: { element: HTMLVideoElement } }).lambdaHls.element.textTracks).length >= 2,
      undefined,
      { timeout: 30_000, polling: 250 },
    );
    await p.evaluate(() => {
      for (const t of Array.from((window as unknown as { lambdaHls: { element: HTMLVideoElement } }).lambdaHls.element.textTracks))
        t.mode = t.language.startsWith('en') ? 'showing' : 'disabled';
    });
  });
  await page.close();
});
