// `lambda-hls demo [--no-serve] [--port N]` (what `npm run demo` runs): a 30-second test clip made
// by the media tool, converted, then served.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalBackend } from '../../src/composition/backends/local';
import { DEFAULT_OPTIONS } from '../../src/core/model';
import { localTarget } from '../targets';
import { runConvert } from './convert';
import { EXIT_OK, say } from './output';
import { runServe } from './serve';

export async function runDemo(backend: LocalBackend, serve: boolean, port: number): Promise<number> {
  const dir = join(backend.settings.home, 'demo');
  await mkdir(dir, { recursive: true });
  const clip = join(dir, 'lambda-hls demo.mp4');
  say(`lambda-hls demo: making a 30-second test clip with ffmpeg (${clip})`);
  await backend.media.testClip(clip, 30);
  // Its hint names the port the demo serves on next, as `lambda-hls serve` would be run to serve it again.
  const code = await runConvert(localTarget(backend, { port }), clip, DEFAULT_OPTIONS, false);
  if (code !== EXIT_OK || !serve) return code;
  return runServe(backend, port, '127.0.0.1');
}
