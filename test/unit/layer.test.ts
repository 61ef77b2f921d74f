// The ffmpeg layer's build: the source build of `npm run build:ffmpeg` (Debian 12's maintained
// ffmpeg) by default, npm's 2018 one only without it (said as a warning), and a static ffmpeg of
// the user's own (LAMBDA_HLS_LAYER_FFMPEG / _FFPROBE) before either: used only when it would run
// in Lambda and is recent; refused, saying why, otherwise.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveBinaries, sourceBuilt } from '../../src/adapters/ffmpeg/binaries';
import { removeDir, tempDir } from '../support/fixtures';

const SCRIPT = join(__dirname, '..', '..', 'layers', 'ffmpeg', 'build.mjs');
/** npm's static binaries (a 2018 build). */
const npm = {
  ffmpeg: (require('@ffmpeg-installer/ffmpeg') as { path: string }).path,
  ffprobe: (require('@ffprobe-installer/ffprobe') as { path: string }).path,
};
/** What `npm run build:ffmpeg` built (the tests' prerequisites build it). */
const source = { ffmpeg: sourceBuilt('ffmpeg')!, ffprobe: sourceBuilt('ffprobe')! };
const DEBIAN_FFMPEG = '/usr/bin/ffmpeg';

function build(env: Record<string, string>, args: string[] = []) {
  const out = tempDir('layer');
  const run = spawnSync(process.execPath, [SCRIPT, '--out', out, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { out, code: run.status, said: `${run.stdout}${run.stderr}` };
}

const origin = (out: string) => JSON.parse(readFileSync(join(out, 'ORIGIN'), 'utf8'));

describe('the ffmpeg layer', () => {
  it("takes the source build of npm run build:ffmpeg, Debian 12's maintained ffmpeg, static, by default", () => {
    expect(source.ffmpeg).toBeDefined();
    const { out, code, said } = build({});
    try {
      expect([code, said]).toEqual([
        0,
        expect.stringMatching(/layer: ffmpeg \(npm run build:ffmpeg\): ffmpeg version 5\.1\.\d+ .*\(static, 20\d\d\)/),
      ]);
      expect(said).not.toContain('warning');
      for (const name of ['ffmpeg', 'ffprobe'] as const)
        expect(readFileSync(join(out, 'bin', name)).equals(readFileSync(source[name]))).toBe(true);
      expect(origin(out)).toEqual({ ffmpeg: 'source', ffprobe: 'source' });
    } finally {
      removeDir(out);
    }
  });

  it("takes npm's 2018 binaries only without a source build, and says so as a warning", () => {
    const none = tempDir('no-source-build');
    const { out, code, said } = build({}, ['--source', none]);
    try {
      expect(code).toBe(0);
      expect(said).toContain("layer: warning: bin/ffmpeg is npm's 2018 build");
      expect(readFileSync(join(out, 'bin', 'ffmpeg')).equals(readFileSync(npm.ffmpeg))).toBe(true);
      expect(origin(out)).toEqual({ ffmpeg: 'npm', ffprobe: 'npm' });
    } finally {
      removeDir(out);
      removeDir(none);
    }
  });

  it('is the same ffmpeg the local default runs', () => {
    expect(resolveBinaries({})).toEqual(source);
    expect(resolveBinaries({ ffmpegPath: '/x/ffmpeg' }).ffmpeg).toBe('/x/ffmpeg');
  });
});

describe('the ffmpeg layer with a given static build', () => {
  it('takes a static ffprobe built in 2023 or later, as given, before the source build', () => {
    const { out, code, said } = build({ LAMBDA_HLS_LAYER_FFPROBE: source.ffprobe });
    try {
      expect([code, said]).toEqual([
        0,
        expect.stringMatching(/layer: ffprobe \(LAMBDA_HLS_LAYER_FFPROBE\): ffprobe version \S+ .*\(static, 20\d\d\)/),
      ]);
      expect(origin(out)).toEqual({ ffmpeg: 'source', ffprobe: 'given' });
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
