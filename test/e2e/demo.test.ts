// `npm run demo` (the README's quick start): the 30-second clip made, converted and served, a player
// decoding every frame of it from the served playlist, the hint naming where it is served, Ctrl-C
// stopping it; `--no-serve` stops after converting.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildCli, CLI, cliIn } from '../support/cli';
import { removeDir, tempDir } from '../support/fixtures';
import { framesOf, PLAYER } from '../support/player';

let home: string;

beforeAll(() => {
  expect(buildCli()).toBe(true);
  home = tempDir('e2e-demo');
});

afterAll(() => removeDir(home));

describe('lambda-hls demo', () => {
  it('makes the clip, converts it, serves it on the port asked until Ctrl-C, every frame played from its playlist', async () => {
    const child = spawn(process.execPath, [CLI, 'demo', '--port', '0'], {
      env: { ...process.env, LAMBDA_HLS_HOME: join(home, 'served') },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let said = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
    try {
      const base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`demo did not serve: ${said}`)), 180_000);
        child.stderr!.on('data', (chunk: Buffer) => {
          said += chunk.toString();
          const match = /serving 1 video at (http:\/\/127\.0\.0\.1:\d+)\//.exec(said);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
        void exited.then(() => reject(new Error(`demo exited: ${said}`)));
      });
      const videoId = /lambda-hls: (\S+) is ready: 5 segments in each of 4 rungs/.exec(said)?.[1];
      expect(videoId).toMatch(/^lambda-hls-demo-[0-9a-f]+$/);
      // Port 0: the hint cannot name the port yet, and says where to look instead of naming 8080.
      expect(said).toContain(`play it   lambda-hls serve --port 0, then open /watch/${videoId} at the address it prints`);
      expect(said).not.toContain('127.0.0.1:8080');
      expect((await fetch(`${base}/watch/${videoId}`)).status).toBe(200);
      // 30 s at 25 frames a second, as the clip was made.
      expect(await framesOf(PLAYER, `${base}/v/${videoId}/index.m3u8`)).toBe(750);
      // Ctrl-C (SIGINT to its group, as a terminal sends it) stops the server: a clean stop, exit 0.
      process.kill(-child.pid!, 'SIGINT');
      expect(await exited).toBe(0);
      await expect(fetch(`${base}/`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 240_000);

  it('stops after converting with --no-serve, naming the default port in its hint', () => {
    const run = cliIn(join(home, 'converted'), ['demo', '--no-serve'], {}, 180_000);
    expect({ code: run.code, stderr: run.stderr }).toMatchObject({
      code: 0,
      stderr: expect.stringMatching(/is ready: 5 segments in each of 4 rungs/),
    });
    expect(run.stderr).toContain('play it   lambda-hls serve, then open http://127.0.0.1:8080/watch/lambda-hls-demo-');
  }, 240_000);
});
