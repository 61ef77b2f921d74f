#!/usr/bin/env node
// npm run bench: each figure is a ratio against a baseline measured in the same run, on this
// machine, with inputs ffmpeg generates here. Prints a table, then one JSON line per figure.
//
//   wall time     lambda-hls convert of a 1080p 2-minute H.264 clip vs `ffmpeg -c copy` segmenting it alone
//   peak RSS      convert of a 1-minute and a 10-minute 1080p clip (flat: the 10-minute within 10%)
//   serve route   302s per second from `lambda-hls serve` (warm caches) vs a bare Node server answering a fixed 302,
//                 and code-store URL look-ups per 100,000 segment requests vs one per package per URL lifetime
//   functions     packages made per hour of 8 Mbit/s video vs total bytes / 45 MiB, rounded up
//   start-up      `lambda-hls --version`, `--help`, `list`, `history` vs `node -e 0`, interleaved
//
// BENCH_QUICK=1 shortens everything (a smoke run, not figures to quote).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, totalmem, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'lambda-hls.js');
const RSS_HOOK = join(ROOT, 'bench', 'max-rss.cjs');
const QUICK = process.env.BENCH_QUICK === '1';
const FFMPEG = process.env.FFMPEG_PATH || (await import('@ffmpeg-installer/ffmpeg')).default.path;
const work = mkdtempSync(join(tmpdir(), 'lambda-hls-bench-'));
const MiB = 1024 * 1024;

function log(text) {
  process.stderr.write(`${text}\n`);
}

function ffmpeg(args) {
  const result = spawnSync(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${result.stderr}`);
}

function timed(fn) {
  const start = process.hrtime.bigint();
  const value = fn();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `lambda-hls convert` in a fresh home: its wall time, peak RSS (of the Node process) and JSON result. */
function convert(file, home, env = {}) {
  const rssFile = join(work, `rss-${Math.random().toString(36).slice(2)}`);
  const { value: run, seconds } = timed(() =>
    spawnSync(process.execPath, ['--require', RSS_HOOK, CLI, 'convert', file, '--json'], {
      env: { ...process.env, LAMBDA_HLS_HOME: home, BENCH_RSS_FILE: rssFile, ...env },
      encoding: 'utf8',
      maxBuffer: 64 * MiB,
    }),
  );
  if (run.status !== 0) throw new Error(`convert ${file} failed: ${run.stdout}${run.stderr}`);
  return { seconds, rssBytes: Number(readFileSync(rssFile, 'utf8')), result: JSON.parse(run.stdout) };
}

// --- inputs ---------------------------------------------------------------------------------
const minute = QUICK ? 10 : 60;
log(`lambda-hls bench in ${work}${QUICK ? ' (quick)' : ''}`);
const one = join(work, 'one.mp4');
const gen = timed(() =>
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=1920x1080:rate=30',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    '-t',
    String(minute),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-b:v',
    '8M',
    '-maxrate',
    '8M',
    '-bufsize',
    '16M',
    '-g',
    '60',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-b:a',
    '128k',
    '-shortest',
    one,
  ]),
);
/** The same minute, looped without re-encoding. */
function minutes(n) {
  const path = join(work, `${n}min.mp4`);
  ffmpeg(['-stream_loop', String(n - 1), '-i', one, '-c', 'copy', path]);
  return path;
}
const two = minutes(2);
const ten = minutes(10);
log(`  inputs: 1080p H.264 8 Mbit/s, 1 minute made in ${gen.seconds.toFixed(1)} s, looped to 2 and 10`);

const results = [];
function report(name, value, unit, baseline, baselineUnit, ratio, goal, met, note = '') {
  results.push({ name, value, unit, baseline, baselineUnit, ratio, goal, met, note });
}

// --- 1. wall time vs the ffmpeg floor -------------------------------------------------------
{
  const runs = QUICK ? 1 : 3;
  const floors = [];
  const converts = [];
  for (let i = 0; i < runs; i++) {
    const out = join(work, `floor-${i}`);
    mkdirSync(out);
    floors.push(
      timed(() =>
        ffmpeg(['-i', two, '-c', 'copy', '-f', 'segment', '-segment_time', '10', '-segment_format', 'mpegts', join(out, '%05d.ts')]),
      ).seconds,
    );
    rmSync(out, { recursive: true, force: true });
    const home = join(work, `wall-${i}`);
    converts.push(convert(two, home).seconds);
    rmSync(home, { recursive: true, force: true });
  }
  const floor = median(floors);
  const ours = median(converts);
  report(
    'conversion wall time, 1080p 2 min',
    ours,
    's',
    floor,
    's (ffmpeg -c copy segmenting)',
    ours / floor,
    '≤ 1.3×',
    ours / floor <= 1.3,
  );
  log(`  wall time: convert ${ours.toFixed(2)} s, ffmpeg alone ${floor.toFixed(2)} s`);
}

// --- 2. peak RSS, 1 vs 10 minutes, and 4. functions per hour --------------------------------
let serveHome;
let servedVideo;
{
  const homeOne = join(work, 'rss-1');
  const small = convert(one, homeOne);
  rmSync(homeOne, { recursive: true, force: true });
  serveHome = join(work, 'rss-10');
  const large = convert(ten, serveHome);
  servedVideo = large.result;
  const ratio = large.rssBytes / small.rssBytes;
  report(
    'peak RSS of convert, 10 min',
    large.rssBytes / MiB,
    'MiB',
    small.rssBytes / MiB,
    'MiB (1 min)',
    ratio,
    '< 200 MiB, ≤ 1.10×',
    large.rssBytes < 200 * MiB && ratio <= 1.1,
  );
  log(`  peak RSS: ${(small.rssBytes / MiB).toFixed(0)} MiB for 1 min, ${(large.rssBytes / MiB).toFixed(0)} MiB for 10 min`);

  const bytes = statSync(ten).size;
  const seconds = minute * 10;
  const perHour = (large.result.stats.packages * 3600) / seconds;
  const budget = Math.ceil((bytes * 3600) / seconds / (45 * MiB));
  report(
    'functions per hour of 8 Mbit/s video',
    perHour,
    'functions',
    budget,
    'functions (bytes / 45 MiB)',
    perHour / budget,
    '≤ 1.0×',
    perHour <= budget,
    `${large.result.stats.packages} packages for ${(bytes / MiB).toFixed(0)} MiB over ${(seconds / 60).toFixed(1)} min`,
  );
  log(`  functions: ${large.result.stats.packages} for ${(seconds / 60).toFixed(1)} min (${perHour.toFixed(0)}/h; budget ${budget}/h)`);

  // The same with packages up to 250 MB (created from S3): the configurable upper bound.
  const homeBig = join(work, 'big-packages');
  const big = convert(ten, homeBig, { LAMBDA_HLS_PACKAGE_BYTES: '250000000' });
  rmSync(homeBig, { recursive: true, force: true });
  const bigPerHour = (big.result.stats.packages * 3600) / seconds;
  report(
    'functions per hour, LAMBDA_HLS_PACKAGE_BYTES=250 MB',
    bigPerHour,
    'functions',
    budget,
    'functions (bytes / 45 MiB)',
    bigPerHour / budget,
    '≤ 1.0×',
    bigPerHour <= budget,
    `${big.result.stats.packages} packages through the S3 path`,
  );
}

// --- 3. serve route vs a bare Node 302 ------------------------------------------------------
/** Sends `total` GETs over `connections` keep-alive connections; requests per second. */
async function load(port, paths, total, connections = 32) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let sent = 0;
  let bad = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const path = paths[sent % paths.length];
      sent++;
      request({ host: '127.0.0.1', port, path, agent }, (res) => {
        if (res.statusCode !== 302) bad++;
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (sent < total) await one();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  if (bad > 0) throw new Error(`${bad} answers were not 302`);
  return total / seconds;
}

function startChild(args, env, pattern) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) resolve({ child, port: Number(match[1]) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => reject(new Error(`server exited: ${seen}`)));
  });
}

{
  const requests = QUICK ? 10_000 : 100_000;
  const ours = await startChild([CLI, 'serve', '--port', '0'], { LAMBDA_HLS_HOME: serveHome }, /127\.0\.0\.1:(\d+)\//);
  const bare = await startChild(
    [
      '-e',
      "require('http').createServer((q,r)=>{r.writeHead(302,{Location:'/code/x.zip?expires=1&signature=0'});r.end()}).listen(0,'127.0.0.1',function(){console.log('port '+this.address().port)})",
    ],
    {},
    /port (\d+)/,
  );
  try {
    const playlist = await (await fetch(`http://127.0.0.1:${ours.port}/v/${servedVideo.videoId}/index.m3u8`)).text();
    const uris = [...new Set(playlist.split('\n').filter((l) => l.endsWith('.ts')))];
    const paths = uris.map((u) => `/v/${servedVideo.videoId}/${u}`);
    await load(ours.port, paths, 1000); // warm: every package's URL cached
    const before = await (await fetch(`http://127.0.0.1:${ours.port}/api/stats`)).json();
    const oursRate = await load(ours.port, paths, requests);
    const after = await (await fetch(`http://127.0.0.1:${ours.port}/api/stats`)).json();
    await load(bare.port, ['/'], 1000);
    const bareRate = await load(bare.port, ['/'], requests);
    report(
      'serve route throughput, warm',
      oursRate,
      'req/s',
      bareRate,
      'req/s (bare Node 302)',
      oursRate / bareRate,
      '≥ 0.8×',
      oursRate / bareRate >= 0.8,
    );
    // Every URL look-up the run made (warm-up included) against one per package per URL lifetime
    // (GetFunction's is 10 minutes; the local server's 600 s): the run is far shorter than that.
    const lookups = after.urlLookups;
    const allowed = uris.length;
    report(
      `code-store URL look-ups for ${requests.toLocaleString('en')} segment requests`,
      lookups,
      'look-ups',
      allowed,
      'packages (one each per URL lifetime)',
      lookups / allowed,
      '≤ 1.0×',
      lookups <= allowed,
      `${before.urlLookups} while warming; ${after.routeLoads} route reads`,
    );
    log(
      `  serve: ${oursRate.toFixed(0)} req/s vs bare ${bareRate.toFixed(0)} req/s; ${after.urlLookups} URL look-ups for ${uris.length} packages`,
    );
  } finally {
    ours.child.kill();
    bare.child.kill();
  }
}

// --- 5. start-up: only what the command needs is loaded ---------------------------------------
{
  const rounds = QUICK ? 3 : 11;
  const home = join(work, 'startup');
  const commands = [['--version'], ['--help'], ['list'], ['history', 'none-such']];
  const spawnMs = (args) => {
    const start = process.hrtime.bigint();
    spawnSync(process.execPath, args, { env: { ...process.env, LAMBDA_HLS_HOME: home }, stdio: 'ignore' });
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  // Interleaved, so a slow moment of the machine falls on both sides alike.
  const bare = [];
  const ours = commands.map(() => []);
  for (let i = 0; i < rounds; i++) {
    bare.push(spawnMs(['-e', '0']));
    for (const [k, args] of commands.entries()) ours[k].push(spawnMs([CLI, ...args]));
  }
  const bareMedian = median(bare);
  commands.forEach((args, k) => {
    const ratio = median(ours[k]) / bareMedian;
    const minRatio = Math.min(...ours[k]) / Math.min(...bare);
    report(
      `start-up, lambda-hls ${args[0]}`,
      median(ours[k]),
      'ms',
      bareMedian,
      'ms (node -e 0)',
      ratio,
      '≤ 1.5×',
      ratio <= 1.5,
      `median of ${rounds}; min ratio ${minRatio.toFixed(2)}×`,
    );
  });
  log(
    `  start-up: node -e 0 ${bareMedian.toFixed(0)} ms; ${commands.map((c, k) => `${c[0]} ${median(ours[k]).toFixed(0)} ms`).join(', ')}`,
  );
}

// --- report ---------------------------------------------------------------------------------
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.versions.node}`;
const fmt = (n) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2));
const rows = [['figure', 'value', 'baseline', 'ratio', 'goal', 'met']];
for (const r of results)
  rows.push([
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    `${fmt(r.baseline)} ${r.baselineUnit}`,
    `${r.ratio.toFixed(2)}×`,
    r.goal,
    r.met ? 'yes' : 'NO',
  ]);
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
process.stdout.write(`\nlambda-hls bench on ${machine}${QUICK ? ' (quick run)' : ''}\n\n`);
for (const row of rows) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i])).join('  ')}\n`);
process.stdout.write('\n');
for (const r of results) process.stdout.write(`${JSON.stringify({ ...r, machine, quick: QUICK })}\n`);
writeFileSync(join(ROOT, 'bench', 'latest.jsonl'), `${results.map((r) => JSON.stringify({ ...r, machine, quick: QUICK })).join('\n')}\n`);
rmSync(work, { recursive: true, force: true });
