// scripts/test-prerequisites.mjs, which `npm test` runs first: what the tests need beyond npm's packages.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'test-prerequisites.mjs');

function check(env: Record<string, string>) {
  return spawnSync(process.execPath, [SCRIPT], { env: { ...process.env, ...env }, encoding: 'utf8' });
}

describe('the test prerequisites', () => {
  it('are all here on this machine, and say so in one line', () => {
    const run = check({});
    expect({ status: run.status, stderr: run.stderr }).toEqual({
      status: 0,
      stderr: expect.stringMatching(
        /^test prerequisites: ready: Debian's ffprobe, VLC, GStreamer, chromium and unzip; Node 24 for the rehearsal; osls [\d.]+; ffmpeg built from Debian 12's source\n$/,
      ),
    });
  });

  it('stop before any test with one line naming a player that is not there', () => {
    const run = check({ E2E_CVLC: '/nonexistent/cvlc', LAMBDA_HLS_TEST_INSTALL: 'no' });
    expect({ status: run.status, stderr: run.stderr }).toEqual({
      status: 1,
      stderr: 'test prerequisites: E2E_CVLC=/nonexistent/cvlc is not an executable\n',
    });
  });

  // Hiding Debian's ffprobe takes a mount namespace of one's own: root only (as CI runs).
  const asRoot = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0 ? it : it.skip;
  asRoot('name the Debian package that brings a missing player and the command that installs it', () => {
    const run = spawnSync(
      'unshare',
      ['-m', 'sh', '-c', `mount --bind /dev/null /usr/bin/ffprobe && exec "${process.execPath}" "${SCRIPT}"`],
      { env: { ...process.env, LAMBDA_HLS_TEST_INSTALL: 'no' }, encoding: 'utf8' },
    );
    expect({ status: run.status, stderr: run.stderr }).toEqual({
      status: 1,
      stderr:
        "test prerequisites: missing Debian packages ffmpeg; install them with: sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends ffmpeg'\n",
    });
  });
});
