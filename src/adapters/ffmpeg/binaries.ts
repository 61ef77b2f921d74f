// Which ffmpeg and ffprobe run: those `npm run build:ffmpeg` built from Debian 12's maintained
// source when they are there, else the static 2018 ones shipped in npm packages (so `npm install`
// alone is enough), or any others through FFMPEG_PATH / FFPROBE_PATH (the Lambda layer sets them to
// /opt/bin/…).
import { accessSync, chmodSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface Binaries {
  ffmpeg: string;
  ffprobe: string;
}

function packagedBinary(packageName: string): string {
  const found = require(packageName) as { path: string };
  return found.path;
}

/** npm ≥ 11 may skip the packages' chmod postinstall; make the binary runnable if we own it. */
function ensureExecutable(path: string): string {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    try {
      chmodSync(path, statSync(path).mode | 0o111);
    } catch {
      // not ours to change: spawning will report the real problem
    }
  }
  return path;
}

/** Binaries to run instead of the npm ones (FFMPEG_PATH, FFPROBE_PATH; the layer's /opt/bin in Lambda). */
export interface BinaryPaths {
  ffmpegPath?: string | undefined;
  ffprobePath?: string | undefined;
}

const PACKAGES = { ffmpeg: '@ffmpeg-installer/ffmpeg', ffprobe: '@ffprobe-installer/ffprobe' } as const;

/** Where `npm run build:ffmpeg` puts its build, under the package's root (scripts/build-ffmpeg.mjs). */
export const SOURCE_BUILD = join('layers', 'ffmpeg', 'source', 'bin');

let foundRoot: { dir: string | undefined } | undefined;

/** The package's root: the first folder up from here with lambda-hls's package.json (src/… or dist/); looked for once. */
function packageRoot(): string | undefined {
  foundRoot ??= { dir: searchPackageRoot() };
  return foundRoot.dir;
}

function searchPackageRoot(): string | undefined {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'lambda-hls') return dir;
    } catch {
      // no package.json here
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** The binary of `npm run build:ffmpeg` (Debian 12's maintained ffmpeg, built statically), when it was run. */
export function sourceBuilt(name: keyof Binaries): string | undefined {
  const root = packageRoot();
  const path = root && join(root, SOURCE_BUILD, name);
  return path && isFile(path) ? path : undefined;
}

/**
 * One binary: the path given, else the source build when there is one, else the static one from
 * npm (a 2018 build; resolved only now, when it is needed).
 */
export function resolveBinary(name: keyof Binaries, paths: BinaryPaths): string {
  return (
    (name === 'ffmpeg' ? paths.ffmpegPath : paths.ffprobePath) || sourceBuilt(name) || ensureExecutable(packagedBinary(PACKAGES[name]))
  );
}

export function resolveBinaries(paths: BinaryPaths): Binaries {
  return { ffmpeg: resolveBinary('ffmpeg', paths), ffprobe: resolveBinary('ffprobe', paths) };
}

export function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

export function runnable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return isFile(path);
  } catch {
    return false;
  }
}
