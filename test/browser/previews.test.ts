// The hosted page's pictures in Debian's chromium: the poster shows before playing (the <video>'s
// own poster, loaded by the browser), and moving the pointer along the scrub bar shows the
// storyboard's tile of that moment above it, with the time; pressing there seeks there. A
// screenshot of the page while scrubbing stays in artifacts/previews-page.png.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { convertFile, type ConvertResult } from '../../cli/convert';
import { startServer } from '../../cli/server';
import { launchChromium } from '../support/browser';
import { ffmpeg, freshBackend, tempDir } from '../support/fixtures';

interface PreviewWindow {
  lambdaHls: {
    ready?: boolean;
    element: HTMLVideoElement;
    scrub?: {
      cues: { start: number; end: number; url: string; x: number; y: number; w: number; h: number }[];
      shown: { time: number } | null;
    };
  };
}

let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let video: ConvertResult;
let page: Page;

beforeAll(async () => {
  const dir = tempDir('browser-previews');
  const source = join(dir, 'talk.mp4');
  ffmpeg([
    ...['-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    ...['-t', '40', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', source],
  ]);
  const backend = freshBackend();
  video = await convertFile(source, { backend, options: { segmentSeconds: 6, profile: 'source', ladder: 'source' } });
  expect(video.status).toBe('SUCCEEDED');
  server = await startServer({ backend });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  // ?autoplay=0: the page waits for a press of play, showing the poster (a page that plays by itself shows the first frame).
  await page.goto(`${server.url}/watch/${video.videoId}?autoplay=0`);
  await page.waitForFunction(() => (window as unknown as PreviewWindow).lambdaHls?.ready === true);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('shows the poster before the video plays', async () => {
  const poster = await page.evaluate(async () => {
    const el = (window as unknown as PreviewWindow).lambdaHls.element;
    const image = new Image();
    image.src = el.poster;
    await image.decode();
    return { url: new URL(el.poster).pathname, width: image.naturalWidth, height: image.naturalHeight };
  });
  expect(poster).toEqual({ url: `/v/${video.videoId}/poster.jpg`, width: 1280, height: 720 });
});

it('shows the tile of the moment under the pointer on the scrub bar, and seeks where it is pressed', async () => {
  const bar = (await page.locator('#scrub').boundingBox())!;
  // The track is fetched when the first frame is there or the pointer reaches the bar.
  await page.mouse.move(bar.x + 2, bar.y + bar.height / 2);
  await page.waitForFunction(() => {
    const s = (window as unknown as PreviewWindow).lambdaHls;
    return (s.scrub?.cues.length ?? 0) > 0 && s.element.duration > 0;
  });
  const duration = await page.evaluate(() => (window as unknown as PreviewWindow).lambdaHls.element.duration);
  // 25 % of the way along: the cue holding that moment, its rectangle of the sprite.
  await page.mouse.move(bar.x + bar.width * 0.25, bar.y + bar.height / 2);
  const shown = await page.evaluate(() => {
    const box = document.getElementById('preview')!;
    return {
      hidden: box.hidden,
      image: getComputedStyle(box).backgroundImage,
      position: getComputedStyle(box).backgroundPosition,
      size: [box.style.width, box.style.height],
      time: document.getElementById('preview-time')!.textContent,
    };
  });
  const { cues, shown: at } = await page.evaluate(() => {
    const scrub = (window as unknown as PreviewWindow).lambdaHls.scrub!;
    return { cues: scrub.cues, shown: scrub.shown!.time };
  });
  // The pointer's moment is where it is along the bar.
  expect(at / duration).toBeCloseTo(0.25, 2);
  const cue = cues.find((c) => at >= c.start && at < c.end)!;
  expect(shown).toEqual({
    hidden: false,
    image: `url("${cue.url}")`,
    position: `${-cue.x}px ${-cue.y}px`,
    size: [`${cue.w}px`, `${cue.h}px`],
    time: `0:${String(Math.floor(at)).padStart(2, '0')}`,
  });
  expect(new URL(cue.url).pathname).toMatch(new RegExp(`^/v/${video.videoId}/[a-z0-9]+/storyboard\\.jpg$`));
  // The sprite itself loads (on the page's origin, as image/jpeg).
  const sprite = await page.evaluate(async (url) => {
    const image = new Image();
    image.src = url;
    await image.decode();
    return image.naturalWidth;
  }, cue.url);
  expect(sprite).toBe(1600);
  mkdirSync('artifacts', { recursive: true });
  await page.screenshot({ path: join('artifacts', 'previews-page.png') });

  // Pressed at 75 %: the video seeks there.
  await page.mouse.move(bar.x + bar.width * 0.75, bar.y + bar.height / 2);
  await page.mouse.down();
  await page.mouse.up();
  const now = await page.evaluate(() => (window as unknown as PreviewWindow).lambdaHls.element.currentTime);
  expect(now).toBeCloseTo(duration * 0.75, 0);
  // Leaving the bar hides the preview.
  await page.mouse.move(bar.x + bar.width / 2, bar.y - 200);
  expect(await page.locator('#preview').isHidden()).toBe(true);
});
