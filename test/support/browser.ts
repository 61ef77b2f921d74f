// Debian's chromium driven by playwright-core (never a downloaded browser), as the browser test and
// the rehearsal launch it, and what a page's player shows while it plays.
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The tests press no play button.
  '--autoplay-policy=no-user-gesture-required',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

/** The parts of a page's media element the tests read (no DOM types in the main compilation). */
interface MediaElement {
  currentTime: number;
  paused: boolean;
  play(): Promise<void>;
  pause(): void;
  addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
  getVideoPlaybackQuality?(): { totalVideoFrames: number; droppedVideoFrames: number };
}

/** What a page exposes on `window.lambdaHls`: the media element, and the fatal error if any. */
export interface PlayerState {
  ready?: boolean;
  element: MediaElement;
  fatal: string | null;
  /** The local page: plays a video of its list. */
  play?(videoId: string): boolean;
  choice?: { engine: string; source: string; playlist: string } | null;
}

export interface PlayResult {
  ended: boolean;
  currentTime: number;
  fatal: string | null;
  decodedFrames?: number;
  droppedFrames?: number;
}

/**
 * Waits in the page until `state.element` ends (or a fatal error), after starting `videoId` from
 * the page's list (the hosted page of one video starts by itself). Resolves with what the element reports.
 */
export function playedToEnd(page: Page, videoId?: string): Promise<PlayResult> {
  return page.evaluate(
    (id) =>
      new Promise<PlayResult>((resolve) => {
        const state = (globalThis as unknown as { lambdaHls: PlayerState }).lambdaHls;
        if (id !== undefined && !state.play?.(id)) throw new Error(`no video ${id} in the list`);
        const el = state.element;
        const timer = setInterval(() => {
          if (state.fatal) {
            clearInterval(timer);
            resolve({ ended: false, currentTime: el.currentTime, fatal: state.fatal });
          }
        }, 100);
        el.addEventListener(
          'ended',
          () => {
            clearInterval(timer);
            const quality = el.getVideoPlaybackQuality?.();
            resolve({
              ended: true,
              currentTime: el.currentTime,
              fatal: state.fatal,
              ...(quality && {
                decodedFrames: quality.totalVideoFrames - quality.droppedVideoFrames,
                droppedFrames: quality.droppedVideoFrames,
              }),
            });
          },
          { once: true },
        );
      }),
    videoId,
  );
}

/** Seeks `state.element` to `at` seconds; resolves once it has played half a second past the seek. */
export function seekAndResume(page: Page, at: number): Promise<{ seekedAt: number; later: number }> {
  return page.evaluate(
    (to) =>
      new Promise<{ seekedAt: number; later: number }>((resolve) => {
        const el = (globalThis as unknown as { lambdaHls: PlayerState }).lambdaHls.element;
        el.addEventListener(
          'seeked',
          () => {
            const seekedAt = el.currentTime;
            const check = () => (el.currentTime > seekedAt + 0.5 ? resolve({ seekedAt, later: el.currentTime }) : setTimeout(check, 50));
            check();
          },
          { once: true },
        );
        el.currentTime = to;
        if (el.paused) void el.play();
      }),
    at,
  );
}

/**
 * A page that plays `src` with Shaka Player (served at /shaka-player.js), exposing `window.lambdaHls`
 * as the product's pages do, the player as its `shaka`; with `play`, it starts once loaded.
 */
export function shakaPage(src: string, { play = true }: { play?: boolean } = {}): string {
  return `<!doctype html><meta charset="utf-8"><video id="v" controls muted style="width:640px"></video>
<script src="/shaka-player.js"></script><script>
var el = document.getElementById('v'), state = { element: el, fatal: null };
window.lambdaHls = state;
shaka.polyfill.installAll();
var player = new shaka.Player();
state.shaka = player;
player.addEventListener('error', function (e) { state.fatal = 'shaka:' + e.detail.code; });
player.attach(el).then(function () { return player.load(${JSON.stringify(src)}); })
  .then(function () { state.ready = true; ${play ? 'return el.play();' : ''} })
  .catch(function (e) { state.fatal = 'shaka:' + (e.code || e.message); state.ready = true; });
</script>`;
}
