// Media fixtures made by ffmpeg at test time (nothing binary is committed), and helpers to run
// conversions in a throw-away $LAMBDA_HLS_HOME.
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { resolveBinaries } from '../../src/adapters/ffmpeg/binaries';
import { localBackend, type LocalBackend } from '../../src/composition/backends/local';
import { readSettings, type Settings } from '../../src/composition/settings';

/** The top-level states a conversion that succeeds enters, in order (statemachines/convert-video.asl.yml). */
/** The states a copy (or audio only) goes through; a transcode's adds EncodeChunks and JoinChunks after the Choice. */
export const CONVERSION_STATES = [
  'ValidateInput',
  'SegmentMedia',
  'EncodeOrPackage',
  'PackageSegments',
  'ComputeOffsets',
  'MakeCaptions',
  'WritePlaylist',
  'MakePreviews',
  'RegisterRoute',
];
export const TRANSCODE_STATES = [
  'ValidateInput',
  'SegmentMedia',
  'EncodeOrPackage',
  'EncodeChunks',
  'JoinChunks',
  'PackageSegments',
  'ComputeOffsets',
  'MakeCaptions',
  'WritePlaylist',
  'MakePreviews',
  'RegisterRoute',
];

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
  /** Frames between keyframes (default: one second's). */
  gop?: number;
  /** The mp4 muxer's layout: `+faststart` (index first), `+frag_keyframe+…` (fragmented). */
  movflags?: string;
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
      : [
          '-c:v',
          'libx264',
          '-preset',
          'ultrafast',
          '-g',
          String(options.gop ?? rate),
          ...(options.gop ? ['-sc_threshold', '0'] : []),
          '-pix_fmt',
          'yuv420p',
        ]),
    ...(options.audio === false ? [] : ['-c:a', 'aac', '-b:a', '64k', '-ac', '2']),
    ...(options.movflags ? ['-movflags', options.movflags] : []),
    '-shortest',
    path,
  ]);
  return path;
}

/**
 * A test-pattern video with a tone and a text track of its own (mp4's mov_text, as phone and editor
 * exports carry them): `srt` (SubRip text) muxed in as its one subtitle stream, tagged `language`.
 */
export function makeCaptionedVideo(path: string, options: { seconds: number; size: string; srt: string; language: string }): string {
  const srt = writeText(`${path}.track.srt`, options.srt);
  ffmpeg([
    ...[
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${options.size}:rate=25`,
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000',
      '-i',
      srt,
    ],
    ...['-t', String(options.seconds), '-map', '0:v', '-map', '1:a', '-map', '2:s', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50'],
    ...['-pix_fmt', 'yuv420p', '-c:a', 'aac', '-c:s', 'mov_text', '-metadata:s:s:0', `language=${options.language}`, path],
  ]);
  rmSync(srt);
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

/** A listener on 127.0.0.1 that records every request it gets (answering 404): proof that nothing was fetched. */
export async function recordingListener(): Promise<{ base: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const listener = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(listener.address() as { port: number }).port}`,
    requests,
    close: () => new Promise<void>((resolve) => listener.close(() => resolve())),
  };
}

/** A DASH manifest whose media is at `base` (what ffprobe would fetch if it guessed the format from the bytes). */
export function dashManifest(base: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S" minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
<BaseURL>${base}/</BaseURL>
<Period><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="1000" codecs="avc1.42c01e" width="320" height="240"><BaseURL>video.mp4</BaseURL></Representation></AdaptationSet></Period>
</MPD>
`;
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
  // The code storage ledger is every run's: an artefact of none while it holds no reservation.
  const ledger = join('buckets', 'work', 'quota', 'reservations.json');
  const empty = (() => {
    try {
      return Object.keys((JSON.parse(readFileSync(join(home, ledger), 'utf8')) as { reservations: object }).reservations).length === 0;
    } catch {
      return false;
    }
  })();
  return found.filter((f) => !(empty && f === ledger)).sort();
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

interface Box {
  type: string;
  body: number;
  end: number;
}

function boxesIn(file: Buffer, start: number, end: number): Box[] {
  const found: Box[] = [];
  for (let at = start; at + 8 <= end; ) {
    let size = file.readUInt32BE(at);
    let header = 8;
    if (size === 1) {
      size = Number(file.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    found.push({ type: file.toString('latin1', at + 4, at + 8), body: at + header, end: at + size });
    at += size;
  }
  return found;
}

/**
 * Gives an mp4's video track the display matrix a phone writes when it was held `degrees`
 * (clockwise) from the sensor's orientation: the pixels stay as they are, players turn them.
 */
export function rotateMp4(path: string, degrees: 90 | 180 | 270): string {
  const file = readFileSync(path);
  const moov = boxesIn(file, 0, file.length).find((b) => b.type === 'moov')!;
  for (const trak of boxesIn(file, moov.body, moov.end).filter((b) => b.type === 'trak')) {
    const parts = boxesIn(file, trak.body, trak.end);
    const mdia = parts.find((b) => b.type === 'mdia')!;
    const hdlr = boxesIn(file, mdia.body, mdia.end).find((b) => b.type === 'hdlr')!;
    if (file.toString('latin1', hdlr.body + 8, hdlr.body + 12) !== 'vide') continue;
    const tkhd = parts.find((b) => b.type === 'tkhd')!;
    // version/flags, times, track id, reserved, duration (32 or 64 bits), reserved, layer, group, volume, reserved.
    const matrix = tkhd.body + 4 + (file[tkhd.body] === 1 ? 32 : 20) + 16;
    const radians = (degrees * Math.PI) / 180;
    const [cos, sin] = [Math.round(Math.cos(radians)), Math.round(Math.sin(radians))];
    [cos * 65536, sin * 65536, 0, -sin * 65536, cos * 65536, 0, 0, 0, 1 << 30].forEach((v, i) => {
      file.writeInt32BE(v, matrix + 4 * i);
    });
    writeFileSync(path, file);
    return path;
  }
  throw new Error(`${path} has no video track`);
}
