// Which rungs of the ladder (./renditions.ts LADDER) a source gets, and each one's size and rates.
// Pure: decided from the probe and the `ladder` option only. A rung is never larger than the
// source (its short side), never faster than the source's own bit rate, and keeps the source's
// aspect: a portrait source gets a portrait ladder.
import { InvalidRequest } from './errors';
import type { EncodingPlan, LadderOption, RungPlan, VideoStream } from './model';
import { LADDER, LADDER_BUFFER_SECONDS, LADDER_PEAK_RATIO, type LadderRung } from './renditions';

/** The heights `--ladder` accepts: the table's. */
export const LADDER_HEIGHTS: readonly number[] = LADDER.map((r) => r.height);

/** A rung whose rate, capped at the source's, is this close to the rung above's adds nothing. */
const REDUNDANT_RATIO = 0.9;
/** Rates are the table's up to this frame rate, and grow with it above (60 fps: 1.5 times). */
const TABLE_FPS = 30;

function even(value: number): number {
  return Math.max(2, Math.round(value / 2) * 2);
}

/** The picture as a player shows it: turned upright. */
export function uprightSize(video: Pick<VideoStream, 'width' | 'height' | 'rotation'>): { width: number; height: number } {
  const turned = video.rotation === 90 || video.rotation === 270;
  return turned ? { width: video.height, height: video.width } : { width: video.width, height: video.height };
}

/** One rung's plan for a source of this upright size and frame rate. */
function rungFor(rung: LadderRung, size: { width: number; height: number }, fps: number): RungPlan {
  const portrait = size.height > size.width;
  const short = Math.min(size.width, size.height);
  const long = Math.max(size.width, size.height);
  const scaledLong = even((long * rung.height) / short);
  const [width, height] = portrait ? [rung.height, scaledLong] : [scaledLong, rung.height];
  // The table's rate is for 16:9; another aspect has more or fewer pixels at the same short side.
  const area = (width * height) / ((rung.height * 16 * rung.height) / 9);
  const motion = fps > TABLE_FPS ? 1 + (0.5 * (Math.min(fps, 60) - TABLE_FPS)) / TABLE_FPS : 1;
  const kbps = Math.round(rung.kbps * area * motion);
  return rate({ name: `${rung.height}p`, width, height, profile: rung.profile, audio: rung.audio }, kbps);
}

function rate(rung: Pick<RungPlan, 'name' | 'width' | 'height' | 'profile' | 'audio'>, kbps: number): RungPlan {
  const maxKbps = Math.round(kbps * LADDER_PEAK_RATIO);
  return { ...rung, kbps, maxKbps, bufferKbps: Math.round(maxKbps * LADDER_BUFFER_SECONDS) };
}

/**
 * The rungs for this source: `auto`, every rung of the table at or below its short side; or the
 * heights asked for (each must be the table's), those above the source left out. Rates are capped
 * at the source's own, and a rung that the cap makes as fast as the one above is left out. A
 * source smaller than every rung asked gets one rung at its own size.
 */
export function planLadder(video: VideoStream, option: 'auto' | readonly number[]): RungPlan[] {
  const size = uprightSize(video);
  const upright = { width: size.width - (size.width % 2), height: size.height - (size.height % 2) };
  const short = Math.min(upright.width, upright.height);
  const fps = video.frameRate ?? TABLE_FPS;
  const asked = option === 'auto' ? LADDER : option.map((height) => rungOfHeight(height));
  const fitting = [...asked].sort((a, b) => b.height - a.height).filter((r) => r.height <= short);
  if (fitting.length === 0) {
    // Smaller than every rung asked: the source's own size, at the smallest rung's rate per pixel
    // (not the cellular rung's, which is made for a link, not for a picture this size).
    const byHeight = [...asked].sort((a, b) => a.height - b.height);
    const smallest = byHeight.find((r) => r.audio === 'shared') ?? byHeight[0] ?? LADDER.at(-1)!;
    const reference = rungFor(smallest, upright, fps);
    const kbps = Math.max(1, Math.round((reference.kbps * upright.width * upright.height) / (reference.width * reference.height)));
    const own = { name: `${short}p`, width: upright.width, height: upright.height, profile: smallest.profile, audio: smallest.audio };
    return [capped(rate(own, kbps), video)];
  }
  // A source between the table's sizes keeps its own as the top rung (a 1280x536 film is not cut
  // down to 480 lines), at the next rung up's rate per pixel.
  const above = [...LADDER].reverse().find((r) => r.height > short);
  if (option === 'auto' && above && !fitting.some((r) => r.height === short)) {
    const reference = rungFor(above, upright, fps);
    const kbps = Math.round((reference.kbps * upright.width * upright.height) / (reference.width * reference.height));
    fitting.unshift({ ...above, height: short, kbps: Math.round((kbps * (16 * short * short)) / 9 / (upright.width * upright.height)) });
  }
  const rungs: RungPlan[] = [];
  for (const rung of fitting) {
    const plan = capped(rungFor(rung, upright, fps), video);
    const above = rungs.at(-1);
    // The cellular rung stays whatever its rate: it is there for its total (Apple 9.21).
    if (above && rung.audio !== 'low' && plan.kbps >= above.kbps * REDUNDANT_RATIO) continue;
    rungs.push(plan);
  }
  return rungs;
}

/** Never faster than the source: its own bit rate, where the file says, caps every rung's. */
function capped(rung: RungPlan, video: VideoStream): RungPlan {
  const source = video.bitRate ? Math.round(video.bitRate / 1000) : undefined;
  return source !== undefined && rung.kbps > source ? rate(rung, source) : rung;
}

function rungOfHeight(height: number): LadderRung {
  const rung = LADDER.find((r) => r.height === height);
  if (!rung) throw new InvalidRequest(`no ${height}p rung in the ladder: the rungs are ${LADDER_HEIGHTS.join(', ')}`);
  return rung;
}

/** `--ladder`'s value: `auto`, `source`, or heights separated by commas (`720,360,234`). */
export function parseLadder(text: string): LadderOption {
  const value = text.trim().toLowerCase();
  if (value === 'auto' || value === 'source') return value;
  const heights = value.split(',').map((part) => part.trim().replace(/p$/, ''));
  if (heights.length === 0 || heights.some((h) => !/^[1-9][0-9]{2,3}$/.test(h)))
    throw new InvalidRequest(`--ladder takes auto, source, or heights such as 720,360,234 (the rungs are ${LADDER_HEIGHTS.join(', ')})`);
  const numbers = [...new Set(heights.map(Number))];
  for (const height of numbers) rungOfHeight(height);
  return numbers.sort((a, b) => b - a);
}

/** One line for a person: "720p 2800k, 480p 1400k, 360p 800k, 234p 96k". */
export function describeLadder(rungs: readonly RungPlan[]): string {
  return rungs.map((r) => `${r.name} ${r.width}x${r.height} ${r.kbps}k`).join(', ');
}

/** The name of the cellular rung's own sound: its parts' key (keys.chunkAudio) and its output's folder. */
export const LOW_AUDIO = 'low';

/** Whether a ladder has a rung with the cellular rung's own sound. */
export function hasLowAudio(plan: EncodingPlan): boolean {
  return plan.video === 'ladder' && plan.rungs.some((r) => r.audio === 'low');
}
