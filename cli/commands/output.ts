// What every command shares: where it writes, its exit codes, and how numbers read.
import { ladderVariants, type RenditionPlaylist, type RouteRecord } from '../../src/core/model';
import type { CaptionJson, RenditionJson } from './contracts';

export const EXIT_OK = 0;
/** The conversion failed, or what was asked for does not exist. */
export const EXIT_FAILED = 1;
/** Bad usage: a flag, a file that is not there, a setting that cannot be used. */
export const EXIT_USAGE = 2;

/** A line for the person at the terminal (progress, results, hints). */
export function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** One JSON document on stdout: what `--json` promises scripts (see ./contracts.ts). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** "1 package", "3 packages", "2 batches". */
export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

/** 75.4 → "1:15". */
export function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return s === 60 ? `${m + 1}:00` : `${m}:${String(s).padStart(2, '0')}`;
}

/** A ladder's rungs as `convert --json` and `list --json` give them (./contracts.ts), each rung's playlist where `playlistOf` puts it. */
export function renditionsOf(
  route: { renditions?: RenditionPlaylist[] | undefined },
  playlistOf: (rendition: RenditionPlaylist) => string,
): { renditions?: RenditionJson[] } {
  const renditions = ladderVariants(route, playlistOf);
  return renditions ? { renditions } : {};
}

/** A video's poster and storyboard track as `convert --json` and `list --json` give them: where `locate` puts each (a path on disk locally, a URL with --stage). */
export function picturesOf(
  route: { pictures?: RouteRecord['pictures'] },
  locate: (key: string, picture: 'poster' | 'storyboard') => string,
): { poster?: string; storyboard?: string } {
  const { posterKey, storyboardKey } = route.pictures ?? {};
  return {
    ...(posterKey && { poster: locate(posterKey, 'poster') }),
    ...(storyboardKey && { storyboard: locate(storyboardKey, 'storyboard') }),
  };
}

/** A video's subtitle renditions as `convert --json` and `list --json` give them, each playlist where `locate` puts its key. */
export function captionsOf(route: { captions?: RouteRecord['captions'] }, locate: (key: string) => string): { captions?: CaptionJson[] } {
  const tracks = route.captions?.tracks ?? [];
  if (tracks.length === 0) return {};
  return { captions: tracks.map((t) => ({ language: t.language, name: t.name, playlist: locate(t.playlistKey) })) };
}
