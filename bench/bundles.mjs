#!/usr/bin/env node
// npm run bench:bundles [-- --baseline <git revision>] [--runs N]: each deployed function's bundle
// as `serverless package` writes it (offline), and its cold start on the deployed runtime's Node
// (24, as the rehearsal runs it): the time to load the handler module (Lambda's init) and to answer
// a first, empty, event (which every step refuses by name or answers without AWS). With
// --baseline, the same stack packaged at that revision (a git worktree sharing this node_modules)
// is measured in the same run, interleaved function by function, and each figure is a ratio to it;
// min and median of --runs (default 7) starts each.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimeNodePath } from '../scripts/test-prerequisites.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const flag = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const BASELINE = flag('--baseline');
const RUNS = Number(flag('--runs', '7'));
const NODE = runtimeNodePath();
if (!existsSync(NODE)) {
  console.error("bench:bundles: the deployed runtime's Node is not installed: node scripts/test-prerequisites.mjs");
  process.exit(1);
}

// What runs in the function's process: Lambda's streaming global, the handler's load, a first event.
const COLD = `
globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
const t0 = process.hrtime.bigint();
const handler = require(process.argv[1]).handler;
const t1 = process.hrtime.bigint();
const sink = new (require('node:stream').Writable)({ write(chunk, encoding, done) { done(); } });
Promise.resolve()
  .then(() => handler({}, sink, {}))
  .catch(() => {})
  .then(() => {
    const t2 = process.hrtime.bigint();
    require('node:fs').writeSync(1, String.fromCharCode(10) + JSON.stringify({ initMs: Number(t1 - t0) / 1e6, firstMs: Number(t2 - t1) / 1e6 }));
    process.exit(0);
  });
`;

function packageAt(cwd, out) {
  const env = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', AWS_EC2_METADATA_DISABLED: 'true' };
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete env[name];
  env.AWS_SHARED_CREDENTIALS_FILE = join(out, 'no-credentials');
  env.AWS_CONFIG_FILE = join(out, 'no-config');
  const run = spawnSync(
    process.execPath,
    [join(cwd, 'node_modules', 'serverless', 'bin', 'serverless.js'), 'package', '--stage', 'bench', '--package', out],
    {
      cwd,
      env,
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) throw new Error(`serverless package in ${cwd} failed:\n${run.stdout}\n${run.stderr}`);
  const functions = {};
  for (const file of readdirSync(out).filter((f) => f.endsWith('.zip') && f !== 'ffmpeg.zip')) {
    const key = file.replace(/\.zip$/, '');
    const dir = join(out, 'unzipped', key);
    mkdirSync(dir, { recursive: true });
    if (spawnSync('unzip', ['-q', join(out, file), '-d', dir]).status !== 0) throw new Error(`cannot unzip ${file}`);
    const handler = join(
      dir,
      'functions',
      key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
      'handler.js',
    );
    if (!existsSync(handler)) throw new Error(`${file} has no ${handler}`);
    functions[key] = { zipBytes: statSync(join(out, file)).size, handler };
  }
  return functions;
}

function coldStart(handler) {
  const run = spawnSync(NODE, ['-e', COLD, handler], {
    cwd: dirname(handler),
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDBENCH',
      AWS_SECRET_ACCESS_KEY: 'bench',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    },
    encoding: 'utf8',
  });
  const last = run.stdout.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !last.startsWith('{"initMs"'))
    throw new Error(`${handler} did not start (${run.status}): ${run.stdout.slice(-500)} ${run.stderr.slice(-500)}`);
  // The handler logs its own JSON lines (Powertools) to stdout: the figures are the last line.
  return JSON.parse(last);
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)] };
};

const scratch = mkdtempSync(join(tmpdir(), 'lambda-hls-bundles-'));
try {
  const sides = { current: packageAt(ROOT, join(scratch, 'current')) };
  if (BASELINE) {
    const tree = join(scratch, 'baseline-tree');
    const added = spawnSync('git', ['worktree', 'add', '--detach', tree, BASELINE], { cwd: ROOT, encoding: 'utf8' });
    if (added.status !== 0) throw new Error(`git worktree add ${BASELINE}: ${added.stderr}`);
    try {
      symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
      sides.baseline = packageAt(tree, join(scratch, 'baseline'));
    } finally {
      spawnSync('git', ['worktree', 'remove', '--force', tree], { cwd: ROOT });
    }
  }
  const keys = Object.keys(sides.current).sort();
  const samples = {};
  for (let run = 0; run < RUNS; run++) {
    for (const key of keys) {
      for (const [side, functions] of Object.entries(sides)) {
        if (!functions[key]) continue;
        const s = coldStart(functions[key].handler);
        samples[`${side}:${key}`] = [...(samples[`${side}:${key}`] ?? []), s];
      }
    }
  }
  const figure = (side, key, field) => stats(samples[`${side}:${key}`].map((s) => s[field]));
  const ms = (v) => `${v.toFixed(1)}`;
  console.log(
    `bench:bundles on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim()}, ${RUNS} starts each`,
  );
  console.log('| function | zip bytes | init ms (min / median) | first event ms (min / median) |');
  console.log('|---|---|---|---|');
  const lines = [];
  for (const key of keys) {
    const now = sides.current[key];
    const init = figure('current', key, 'initMs');
    const first = figure('current', key, 'firstMs');
    const line = { key, zipBytes: now.zipBytes, initMs: init, firstMs: first };
    let cells = [String(now.zipBytes), `${ms(init.min)} / ${ms(init.median)}`, `${ms(first.min)} / ${ms(first.median)}`];
    const before = sides.baseline?.[key];
    if (before) {
      const binit = figure('baseline', key, 'initMs');
      const bfirst = figure('baseline', key, 'firstMs');
      Object.assign(line, { baseline: { zipBytes: before.zipBytes, initMs: binit, firstMs: bfirst } });
      const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
      cells = [
        `${now.zipBytes} vs ${before.zipBytes} (${ratio(now.zipBytes, before.zipBytes)})`,
        `${ms(init.min)} / ${ms(init.median)} vs ${ms(binit.min)} / ${ms(binit.median)} (${ratio(init.min, binit.min)} / ${ratio(init.median, binit.median)})`,
        `${ms(first.min)} / ${ms(first.median)} vs ${ms(bfirst.min)} / ${ms(bfirst.median)} (${ratio(first.median, bfirst.median)} median)`,
      ];
    }
    console.log(`| ${key} | ${cells.join(' | ')} |`);
    lines.push(line);
  }
  writeFileSync(
    join(ROOT, 'bench', 'bundles-latest.json'),
    `${JSON.stringify({ baseline: BASELINE ?? null, runs: RUNS, functions: lines }, null, 2)}\n`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
