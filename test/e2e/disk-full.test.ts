// A full disk under the lambda-hls home: a small tmpfs mounted as the home, filled to a few sizes of
// free space. Each conversion ends by name (NoSpace), with JSON on stdout as asked, a history that
// reads, and nothing left once gc has run; with the space back, the same file converts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCli, cliIn } from '../support/cli';
import { leftovers, makeVideo, tempDir } from '../support/fixtures';

/** A tmpfs of `bytes` at `path` (root only: the test's machine and CI run as root). */
function mountSmallDisk(path: string, bytes: number): boolean {
  mkdirSync(path, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', path]).status === 0;
}

function unmount(path: string): void {
  spawnSync('umount', ['-l', path]);
}

const free = (path: string) => {
  const fs = statfsSync(path);
  return fs.bavail * fs.bsize;
};

/** Fills the disk at `path` until `left` bytes are free (a filler file the test removes to give the space back). */
function fillLeaving(path: string, left: number): string {
  const filler = join(path, 'filler');
  const bytes = free(path) - left;
  if (bytes > 0) writeFileSync(filler, Buffer.alloc(bytes, 1));
  return filler;
}

const root = process.getuid?.() === 0;
let dir: string;
let clip: string;

beforeAll(() => {
  expect(buildCli()).toBe(true);
  dir = tempDir('e2e-disk-full');
  // About 2 MB: more than the smaller disks have left for its segments and packages.
  clip = makeVideo(join(dir, 'holiday.mp4'), { seconds: 8, size: '640x360' });
});

(root ? describe : describe.skip)('a full disk under the lambda-hls home', () => {
  interface Converted {
    status: string;
    executionName: string;
    error?: { state: string; error: string; cause: string };
  }

  // Where each runs out, for a 2 MB clip: before anything starts (the lock, the history), while
  // ffmpeg writes its segments, while the segments' packages are written beside them.
  it.each([
    ['0 bytes free', 'none (not started)', 0],
    ['8 KB free', 'none (not started)', 8 * 1024],
    ['1 MB free', 'SegmentMedia', 1024 * 1024 + 64 * 1024],
    ['2 MB free', 'SegmentMedia', 2 * 1024 * 1024],
    ['2.6 MB free', 'PackageSegments', 2_600_000],
  ] as const)(
    '%s: NoSpace by name in %s, JSON on stdout, a history that reads, nothing left after gc, and the file converts once there is room',
    (_, state, left) => {
      const home = join(dir, `home-${left}`);
      expect(mountSmallDisk(home, 8 * 1024 * 1024)).toBe(true);
      try {
        // The home's folders exist (as after an earlier run) before the disk fills.
        expect(cliIn(home, ['list']).code).toBe(0);
        const filler = fillLeaving(home, left);
        const run = cliIn(home, ['convert', clip, '--json', '--segment-seconds', '1']);
        expect(run.code).toBe(1);
        expect(run.stderr).not.toMatch(/at .*\.js:\d+|ENOSPC/); // no stack trace, no bare errno
        const result = JSON.parse(run.stdout) as Converted;
        expect(result).toMatchObject({
          status: 'FAILED',
          error: { state, error: 'NoSpace', cause: expect.stringContaining('no space left') },
        });
        // A run that began has a history that reads, saying the same; one that could not begin has none.
        const recorded = cliIn(home, ['history', result.executionName, '--json']);
        if (result.error!.state === 'none (not started)') expect(recorded.code).not.toBe(0);
        else {
          expect(recorded.code).toBe(0);
          expect(JSON.parse(recorded.stdout)).toMatchObject({ status: 'FAILED', error: { error: 'NoSpace' } });
        }
        // Room again: gc removes what is left — with a record an earlier version left empty on a full
        // disk, which no history can read — and the same file converts.
        rmSync(filler);
        mkdirSync(join(home, 'executions'), { recursive: true });
        writeFileSync(join(home, 'executions', 'earlier-run-0a1b2c-cafe0001.json'), '');
        expect(cliIn(home, ['gc']).code).toBe(0);
        expect(existsSync(join(home, 'executions', 'earlier-run-0a1b2c-cafe0001.json'))).toBe(false);
        expect(leftovers(home)).toEqual([]);
        const scratch = join(home, 'scratch');
        expect(existsSync(scratch) ? readdirSync(scratch) : []).toEqual([]);
        // No lock, no staged record: only whole records and their events.
        const history = join(home, 'executions');
        const staged = (existsSync(history) ? readdirSync(history) : []).filter(
          (f) => !f.endsWith('.json') && !f.endsWith('.events.jsonl'),
        );
        expect(staged).toEqual([]);
        const again = cliIn(home, ['convert', clip, '--json']);
        expect([again.code, (JSON.parse(again.stdout) as Converted).status]).toEqual([0, 'SUCCEEDED']);
      } finally {
        unmount(home);
      }
    },
  );
});
