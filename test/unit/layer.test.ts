// The ffmpeg layer's build with a static ffmpeg of the user's own (LAMBDA_HLS_LAYER_FFMPEG /
// _FFPROBE): used only when it would run in Lambda and is recent; refused, saying why, otherwise.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveBinaries } from '../../src/adapters/ffmpeg/media-tool';
import { removeDir, tempDir } from '../support/fixtures';

const SCRIPT = join(__dirname, '..', '..', 'layers', 'ffmpeg', 'build.mjs');
const npm = resolveBinaries({});
const DEBIAN_FFMPEG = '/usr/bin/ffmpeg';

function build(env: Record<string, string>) {
  const out = tempDir('layer');
  const run = spawnSync(process.execPath, [SCRIPT, '--out', out], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { out, code: run.status, said: `${run.stdout}${run.stderr}` };
}

describe('the ffmpeg layer with a given static build', () => {
  it('takes a static ffprobe built in 2023 or later, as given, and the rest from npm', () => {
    const { out, code, said } = build({ LAMBDA_HLS_LAYER_FFPROBE: npm.ffprobe });
    try {
      expect([code, said]).toEqual([0, expect.stringMatching(/layer: ffprobe given: ffprobe version \S+ .*\(static, 20\d\d\)/)]);
      expect(readFileSync(join(out, 'bin', 'ffprobe')).equals(readFileSync(npm.ffprobe))).toBe(true);
      expect(existsSync(join(out, 'bin', 'ffmpeg'))).toBe(true);
    } finally {
      removeDir(out);
    }
  });

  it.each([
    ["npm's ffmpeg, a 2018 build", () => ({ LAMBDA_HLS_LAYER_FFMPEG: npm.ffmpeg }), /was built in 2018 .*give one built in 2023 or later/],
    ['ffprobe given as ffmpeg', () => ({ LAMBDA_HLS_LAYER_FFMPEG: npm.ffprobe }), /is not ffmpeg: it says "ffprobe version/],
    ['a path that is not there', () => ({ LAMBDA_HLS_LAYER_FFMPEG: '/nonexistent/ffmpeg' }), /does not exist/],
  ])('refuses %s, saying why, and builds nothing', (_, env, why) => {
    const { out, code, said } = build(env());
    try {
      expect([code, said]).toEqual([1, expect.stringMatching(why)]);
      expect(existsSync(join(out, 'bin'))).toBe(false);
    } finally {
      removeDir(out);
    }
  });

  (existsSync(DEBIAN_FFMPEG) ? it : it.skip)("refuses a dynamically linked ffmpeg (this system's), which Lambda could not run", () => {
    const { out, code, said } = build({ LAMBDA_HLS_LAYER_FFMPEG: DEBIAN_FFMPEG });
    try {
      expect([code, said]).toEqual([1, expect.stringContaining("is linked against this system's shared libraries")]);
    } finally {
      removeDir(out);
    }
  });
});
