// The built CLI as a user runs it, with its data in a folder of the test's.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { localSourceKey, videoIdFor } from '../../src/core/naming';

export const ROOT = join(__dirname, '..', '..');
export const CLI = join(ROOT, 'bin', 'lambda-hls.js');

/** Builds bin/lambda-hls.js as `npm run build` does; true when it worked. */
export function buildCli(): boolean {
  return spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT }).status === 0;
}

/** The built CLI with its data in `dataHome` (and more environment). */
export function cliIn(dataHome: string, args: string[], env: Record<string, string> = {}, timeout = 120_000) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, LAMBDA_HLS_HOME: dataHome, ...env },
    encoding: 'utf8',
    timeout,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The same, without blocking this process: for tests whose own servers (a listener, an emulator)
 * must answer while the CLI runs.
 */
export function cliAsync(dataHome: string, args: string[], env: Record<string, string> = {}, timeout = 120_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, LAMBDA_HLS_HOME: dataHome, ...env }, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The input key `convert` gives a local file (its name under its folder's tag), as the product derives it. */
export function localKeyOf(file: string): string {
  return localSourceKey(realpathSync(dirname(file)), basename(file));
}

/** The video id `convert` gives a local file. */
export function localVideoIdOf(file: string): string {
  return videoIdFor(localKeyOf(file));
}

/** `lambda-hls serve --port 0` on a data folder: where it serves, and its stop (SIGTERM, waited for). */
export async function serveHome(dataHome: string): Promise<{ baseUrl: string; server: ChildProcess; stop: () => Promise<void> }> {
  const server = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
    env: { ...process.env, LAMBDA_HLS_HOME: dataHome },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => server.on('exit', () => resolve()));
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await exited;
  };
  try {
    const baseUrl = await new Promise<string>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${seen}`)), 20_000);
      server.stderr!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(seen);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      server.on('exit', () => reject(new Error(`serve exited: ${seen}`)));
    });
    return { baseUrl, server, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
