// A video's pictures besides its stream: a poster (a representative frame: the link preview and
// what the page shows before playing) and a storyboard for scrubbing — one sprite image of small
// tiles and a WebVTT track whose cues name each tile's rectangle (`storyboard.jpg#xywh=x,y,w,h`),
// the format Mux and JW Player serve and video.js, Vidstack and Plyr read.
//
// Both are read from the source, not from the rungs: a poster at the source's quality, and tiles
// taken at the source's keyframes (decoding only those is ~one frame per GOP, so an hour of 1080p
// costs seconds, not a decode of every frame). A tile is the frame at its cue's start.
import type { ProbeResult } from './model';
import { numberAt, objectAt, stringAt } from './parse';

/** The poster's longest side at most (Open Graph asks for 1200 × 630 or more; 1280 × 720 is a 720p frame). */
export const POSTER_MAX_SIDE = 1280;
/** A storyboard tile's longest side (Mux's and JW Player's are 160 or 180 wide). */
export const TILE_LONG_SIDE = 160;
/** At most this many tiles: one sprite of 10 columns, ~200 KB for 160 × 90 tiles. */
export const MAX_TILES = 100;
export const STORYBOARD_COLUMNS = 10;
/** A tile every this many seconds at least (a short clip's tiles are its keyframes). */
export const MIN_TILE_SECONDS = 1;

/**
 * Where the poster is looked for: a tenth of the way in (past a fade from black or a title card),
 * then further. The first whose picture is not nearly black is taken; if every one is, the brightest.
 */
export function posterCandidates(durationSeconds: number): number[] {
  const d = Math.max(0, durationSeconds);
  return [0.1, 0.3, 0.5].map((f) => Math.round(d * f * 1000) / 1000);
}

/**
 * Mean luma (0–255) below which a picture counts as black: 16 is limited-range black, and a dark
 * but real scene (a night shot) averages well above 30.
 */
export const DARK_LUMA = 32;

/** The picture as a player shows it (turned upright), in even pixels, its longest side at most `longSide`. */
export function displaySize(video: NonNullable<ProbeResult['video']>, longSide: number): { width: number; height: number } {
  const turned = video.rotation === 90 || video.rotation === 270;
  const w = turned ? video.height : video.width;
  const h = turned ? video.width : video.height;
  const scale = Math.min(1, longSide / Math.max(w, h));
  const even = (n: number) => Math.max(2, 2 * Math.round((n * scale) / 2));
  return { width: even(w), height: even(h) };
}

export interface StoryboardPlan {
  /** Seconds between tiles at least: each tile is the first keyframe at or after its turn. */
  intervalSeconds: number;
  tileWidth: number;
  tileHeight: number;
  columns: number;
  /** Rows the sprite has room for (the most tiles the interval can give). */
  rows: number;
}

export function storyboardPlan(durationSeconds: number, video: NonNullable<ProbeResult['video']>): StoryboardPlan {
  const intervalSeconds = Math.max(MIN_TILE_SECONDS, Math.ceil(durationSeconds / MAX_TILES));
  const most = Math.min(MAX_TILES, Math.floor(durationSeconds / intervalSeconds) + 1);
  const columns = Math.min(STORYBOARD_COLUMNS, most);
  const { width, height } = displaySize(video, TILE_LONG_SIDE);
  return { intervalSeconds, tileWidth: width, tileHeight: height, columns, rows: Math.ceil(most / columns) };
}

export interface StoryboardTile {
  /** Where its cue starts and ends, in seconds from the stream's start. */
  start: number;
  end: number;
  x: number;
  y: number;
}

/**
 * The tiles' cues: tile i (its frame's time t_i, as the sprite holds them in order) covers
 * [t_i, t_i+1), the first from 0 and the last to the end, so every moment of the video has one.
 */
export function storyboardTiles(frameTimes: readonly number[], durationSeconds: number, plan: StoryboardPlan): StoryboardTile[] {
  // None past the end (a frame there would be no moment's tile); no more than the sprite holds.
  const times = frameTimes.filter((t, i) => i === 0 || t < durationSeconds).slice(0, plan.columns * plan.rows);
  return times.map((t, i) => ({
    start: i === 0 ? 0 : t,
    end: i + 1 < times.length ? times[i + 1]! : Math.max(durationSeconds, t),
    x: (i % plan.columns) * plan.tileWidth,
    y: Math.floor(i / plan.columns) * plan.tileHeight,
  }));
}

/** `HH:MM:SS.mmm`, as WebVTT writes a cue's time. */
export function vttTime(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/** The storyboard's WebVTT track: one cue per tile naming its rectangle of `image` (a URI relative to the track). */
export function renderStoryboardVtt(tiles: readonly StoryboardTile[], plan: StoryboardPlan, image: string): string {
  const cues = tiles.map(
    (t) => `${vttTime(t.start)} --> ${vttTime(t.end)}\n${image}#xywh=${t.x},${t.y},${plan.tileWidth},${plan.tileHeight}`,
  );
  return `WEBVTT\n\n${cues.join('\n\n')}\n`;
}

/** What MakePreviews made: the keys of the poster and of the storyboard's track and sprite. */
export interface PreviewsResult {
  poster?: { key: string; seconds: number; width: number; height: number };
  storyboard?: { key: string; imageKey: string; tiles: number; intervalSeconds: number };
  /** Why a video has none: ffmpeg could not make them (it plays without them). A sound file has none, and no reason. */
  skipped?: string;
}

/** MakePreviews's result as RegisterRoute is given it (absent from runs of a state machine before it). */
export function parsePreviewsResult(value: unknown, path = 'previews'): PreviewsResult {
  const raw = objectAt(value, path);
  const result: PreviewsResult = {};
  if (raw.poster !== undefined) {
    const p = objectAt(raw.poster, `${path}.poster`);
    result.poster = {
      key: stringAt(p.key, `${path}.poster.key`),
      seconds: numberAt(p.seconds, `${path}.poster.seconds`),
      width: numberAt(p.width, `${path}.poster.width`),
      height: numberAt(p.height, `${path}.poster.height`),
    };
  }
  if (raw.storyboard !== undefined) {
    const b = objectAt(raw.storyboard, `${path}.storyboard`);
    result.storyboard = {
      key: stringAt(b.key, `${path}.storyboard.key`),
      imageKey: stringAt(b.imageKey, `${path}.storyboard.imageKey`),
      tiles: numberAt(b.tiles, `${path}.storyboard.tiles`),
      intervalSeconds: numberAt(b.intervalSeconds, `${path}.storyboard.intervalSeconds`),
    };
  }
  if (raw.skipped !== undefined) result.skipped = stringAt(raw.skipped, `${path}.skipped`);
  return result;
}

/** A revision's pictures as its route record keeps them: the objects' keys (output bucket). */
export interface RoutePictures {
  posterKey?: string;
  storyboardKey?: string;
  storyboardImageKey?: string;
}

export function routePictures(result: PreviewsResult | undefined): RoutePictures | undefined {
  if (!result?.poster && !result?.storyboard) return undefined;
  return {
    ...(result.poster && { posterKey: result.poster.key }),
    ...(result.storyboard && { storyboardKey: result.storyboard.key, storyboardImageKey: result.storyboard.imageKey }),
  };
}
