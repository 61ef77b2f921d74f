// Media fixtures made by ffmpeg at test time (nothing binary is committed), and helpers to run
// conversions in a throw-away $LAMBDA_HLS_HOME.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { resolveBinaries } from '../../src/adapters/ffmpeg/media-tool';
import { localBackend, type LocalBackend } from '../../src/composition/backends/local';
import { readSettings, type Settings } from '../../src/composition/settings';

/** The top-level states a conversion that succeeds enters, in order (statemachines/convert-video.asl.yml). */
export const CONVERSION_STATES = ['ValidateInput', 'SegmentMedia', 'PackageSegments', 'ComputeOffsets', 'WritePlaylist', 'RegisterRoute'];

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `lambda-hls-${prefix}-`));
}

/** The ffmpeg and ffprobe the product runs here (FFMPEG_PATH/FFPROBE_PATH, else npm's). */
export function testBinaries() {
  return resolveBinaries(readSettings());
}

export function ffmpeg(args: string[]): void {
  const result = spawnSync(testBinaries().ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${result.stderr}`);
}

export interface ClipOptions {
  seconds: number;
  size?: string;
  rate?: number;
  videoCodec?: 'libx264' | 'mpeg4';
  audio?: boolean;
}

/** A test-pattern video with a tone; H.264 with a keyframe every second unless told otherwise. */
export function makeVideo(path: string, options: ClipOptions): string {
  const rate = options.rate ?? 25;
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${options.size ?? '160x90'}:rate=${rate}`,
    ...(options.audio === false ? [] : ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000']),
    '-t',
    String(options.seconds),
    ...(options.videoCodec === 'mpeg4'
      ? ['-c:v', 'mpeg4', '-q:v', '5', '-g', String(rate)]
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(rate), '-pix_fmt', 'yuv420p']),
    ...(options.audio === false ? [] : ['-c:a', 'aac', '-b:a', '64k', '-ac', '2']),
    '-shortest',
    path,
  ]);
  return path;
}

export function makeMp3(path: string, seconds: number): string {
  ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=44100', '-t', String(seconds), '-c:a', 'libmp3lame', '-b:a', '96k', path]);
  return path;
}

export function makeAudioOnlyMp4(path: string, seconds: number): string {
  ffmpeg(['-f', 'lavfi', '-i', 'sine', '-t', String(seconds), '-c:a', 'aac', path]);
  return path;
}

export function makeWav(path: string, seconds: number): string {
  ffmpeg(['-f', 'lavfi', '-i', 'sine', '-t', String(seconds), '-f', 'wav', path]);
  return path;
}

export function writeText(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

/** The local backend in a fresh home folder, with the default settings except `overrides`. */
export function freshBackend(overrides: Partial<Settings> = {}): LocalBackend {
  const home = tempDir('home');
  return localBackend({ ...readSettings({ LAMBDA_HLS_HOME: home }), ...overrides });
}

/** Every file a conversion can leave: functions and objects in any bucket (not the history). */
export function leftovers(home: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else found.push(relative(home, full));
    }
  };
  walk(join(home, 'buckets'));
  walk(join(home, 'functions'));
  return found.sort();
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
