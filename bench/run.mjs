#!/usr/bin/env node
// npm run bench: each figure is a ratio against a baseline measured in the same run, on this
// machine, with inputs ffmpeg generates here (min and median of several runs where it is timed).
//
//   copy path     `lambda-hls convert` of 1080p H.264 at 2 and 10 minutes (60 with BENCH_LONG=1) vs
//                 `ffmpeg -c copy -f segment` alone on the same input: wall time, bytes read and written
//                 per input byte (/proc/<pid>/io of the process and the children it waited for), peak
//                 disk (files under LAMBDA_HLS_HOME; the linked input is the user's file, not counted),
//                 the share of ffmpeg's run it was paused by back-pressure, peak RSS
//   functions     packages made per hour of 8 Mbit/s video vs total bytes / 45 MiB, rounded up
//   transcode     `convert --transcode` of a minute of 1080p in 4 chunks at once vs one ffmpeg doing
//                 the same transcode in one run: wall time
//   ladder        `convert` with the default ladder of that minute (the copy and 4 encoded rungs) vs
//                 ffmpeg's own one-process multi-output ladder command, same rungs and presets; and
//                 the AWS estimate of time to ready for an hour of 1080p (src/core/estimate.ts)
//   serve route   `lambda-hls serve` (warm caches) vs a bare Node server giving the same answer: the
//                 segment 302 and the playlist, under autocannon in a process of its own; requests per
//                 second, server CPU per request, p99 latency; code-store look-ups per 100,000 requests
//   start-up      `lambda-hls --version`, `--help`, `list`, `history` vs `node -e 0`, interleaved
//
// BENCH_QUICK=1 shortens everything (a smoke run, not figures to quote); BENCH_LONG=1 adds 60 minutes;
// BENCH_ONLY=ladder (or copy, transcode, serve, startup; several with commas) runs only those.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'lambda-hls.js');
const MEASURE_HOOK = join(ROOT, 'bench', 'measure.cjs');
const LOAD = join(ROOT, 'bench', 'load.mjs');
const QUICK = process.env.BENCH_QUICK === '1';
const LONG = process.env.BENCH_LONG === '1';
const FFMPEG = process.env.FFMPEG_PATH || (await import('@ffmpeg-installer/ffmpeg')).default.path;
const work = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), 'lambda-hls-bench-'));
const MiB = 1024 * 1024;
const RUNS = QUICK ? 1 : 3;
/** BENCH_ONLY=ladder,transcode…: only those figures (copy, transcode, ladder, serve, startup). */
const ONLY = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
const want = (name) => !ONLY || ONLY.includes(name) || (name === 'copy' && ONLY.includes('serve'));

function log(text) {
  process.stderr.write(`${text}\n`);
}

function ffmpeg(args) {
  const result = spawnSync(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${result.stderr}`);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Dirty pages of the previous run written out first, so no run pays for another's writes. */
function settle() {
  spawnSync('sync');
}

/** Bytes of the files under `dir`, each inode once, leaving out `skip` (dev:ino of the user's input). */
function bytesUnder(dir, skip) {
  let total = 0;
  const seen = new Set();
  const walk = (d) => {
    let names;
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      try {
        const info = lstatSync(join(d, name));
        if (info.isDirectory()) walk(join(d, name));
        else if (info.isFile()) {
          const id = `${info.dev}:${info.ino}`;
          if (id !== skip && !seen.has(id)) {
            seen.add(id);
            total += info.size;
          }
        }
      } catch {
        // gone while we looked
      }
    }
  };
  walk(dir);
  return total;
}

/**
 * Runs a command to its end: wall time, and what bench/measure.cjs (a Node process) or a shell's
 * /proc/$$/io after waiting (anything else) says about it; `watch` (a folder) is polled for its
 * peak size meanwhile.
 */
function measured(command, args, { env = {}, watch, skip } = {}) {
  const measureFile = join(work, `measure-${Math.random().toString(36).slice(2)}`);
  const node = command === process.execPath;
  const argv = node
    ? ['--require', MEASURE_HOOK, ...args]
    : ['-c', '"$0" "$@" && cat /proc/$$/io > "$BENCH_MEASURE_FILE"', command, ...args];
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(node ? process.execPath : 'bash', argv, {
      env: { ...process.env, BENCH_MEASURE_FILE: measureFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    let peakDisk = 0;
    const poll = watch ? setInterval(() => (peakDisk = Math.max(peakDisk, bytesUnder(watch, skip))), 25) : undefined;
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      clearInterval(poll);
      if (watch) peakDisk = Math.max(peakDisk, bytesUnder(watch, skip));
      if (code !== 0)
        return reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${stdout.slice(-2000)}${stderr.slice(-2000)}`));
      const text = readFileSync(measureFile, 'utf8');
      const report = node
        ? JSON.parse(text)
        : {
            io: Object.fromEntries(
              text
                .trim()
                .split('\n')
                .map((l) => l.split(': ').map((v, i) => (i ? Number(v) : v))),
            ),
          };
      resolve({ seconds, stdout, peakDisk, ...report });
    });
  });
}

const results = [];
/** `met`: true, false, or null when the figure has no goal of its own (a point of a curve). */
function report(name, value, unit, baseline, baselineUnit, ratio, goal, met, note = '') {
  results.push({ name, value, unit, baseline, baselineUnit, ratio, goal, met, note });
}

// --- inputs ---------------------------------------------------------------------------------
const minute = QUICK ? 10 : 60;
log(`lambda-hls bench in ${work}${QUICK ? ' (quick)' : ''}${LONG ? ' (with 60 minutes)' : ''}`);
const one = join(work, 'one.mp4');
const genStart = process.hrtime.bigint();
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
]);
/** The same minute, looped without re-encoding. */
function minutes(n) {
  const path = join(work, `${n}min.mp4`);
  ffmpeg(['-stream_loop', String(n - 1), '-i', one, '-c', 'copy', path]);
  return path;
}
const lengths = want('copy') || want('serve') ? [2, 10, ...(LONG ? [60] : [])] : [];
const inputs = new Map(lengths.map((n) => [n, minutes(n)]));
log(
  `  inputs: 1080p H.264 8 Mbit/s, 1 minute made in ${(Number(process.hrtime.bigint() - genStart) / 1e9).toFixed(1)} s, looped to ${lengths.join(', ')}`,
);

// --- 1. the copy path, as a curve over lengths ------------------------------------------------
const copyRuns = new Map();
for (const n of lengths) {
  const input = inputs.get(n);
  const inputBytes = statSync(input).size;
  const { dev, ino } = statSync(input);
  const floors = [];
  const ours = [];
  for (let i = 0; i < RUNS; i++) {
    const out = join(work, `floor-${n}-${i}`);
    mkdirSync(out);
    settle();
    floors.push(
      await measured(
        FFMPEG,
        [
          '-hide_banner',
          '-loglevel',
          'error',
          '-y',
          '-i',
          input,
          '-c',
          'copy',
          '-f',
          'segment',
          '-segment_time',
          '10',
          '-segment_format',
          'mpegts',
          join(out, '%05d.ts'),
        ],
        { watch: out },
      ),
    );
    rmSync(out, { recursive: true, force: true });
    const home = join(work, `copy-${n}-${i}`);
    settle();
    // The copy path alone (one rendition, 10-s segments as the baseline cuts): the ladder is its own figure (2c).
    const run = await measured(process.execPath, [CLI, 'convert', input, '--ladder', 'source', '--segment-seconds', '10', '--json'], {
      env: { LAMBDA_HLS_HOME: home },
      watch: home,
      skip: `${dev}:${ino}`,
    });
    run.result = JSON.parse(run.stdout);
    ours.push(run);
    if (n === 10 && i === 0) copyRuns.set('serveHome', home);
    else rmSync(home, { recursive: true, force: true });
  }
  copyRuns.set(n, { ours, floors, inputBytes });
  const floor = median(floors.map((r) => r.seconds));
  const wall = median(ours.map((r) => r.seconds));
  const minRatio = Math.min(...ours.map((r) => r.seconds)) / Math.min(...floors.map((r) => r.seconds));
  const goalApplies = n >= 10;
  report(
    `copy path wall time, 1080p ${n} min`,
    wall,
    's',
    floor,
    's (ffmpeg -c copy segmenting)',
    wall / floor,
    goalApplies ? '≤ 2.5×' : '(curve)',
    goalApplies ? wall / floor <= 2.5 : null,
    `median of ${RUNS}; min ratio ${minRatio.toFixed(2)}×; ${(inputBytes / MiB).toFixed(0)} MiB input; ${((wall * 1024 * MiB) / inputBytes).toFixed(2)} s/GiB`,
  );
  const perByte = (runs, key) => median(runs.map((r) => r.io[key] / inputBytes));
  const read = perByte(ours, 'rchar');
  const written = perByte(ours, 'wchar');
  const floorRead = perByte(floors, 'rchar');
  const floorWritten = perByte(floors, 'wchar');
  report(
    `bytes written per input byte, ${n} min`,
    written,
    'B/B',
    floorWritten,
    'B/B (ffmpeg alone)',
    written / floorWritten,
    '≤ ffmpeg + 1.1 (one package write)',
    written <= floorWritten + 1.1,
    `wchar; to disk (write_bytes) ${perByte(ours, 'write_bytes').toFixed(2)} vs ${perByte(floors, 'write_bytes').toFixed(2)}`,
  );
  report(
    `bytes read per input byte, ${n} min`,
    read,
    'B/B',
    floorRead,
    'B/B (ffmpeg alone)',
    read / floorRead,
    '(curve)',
    null,
    'rchar: input hash, ffmpeg, CRC-32 of each segment, packaging (page cache or disk)',
  );
  const peak = median(ours.map((r) => r.peakDisk / inputBytes));
  report(
    `peak local disk, ${n} min`,
    peak,
    '× input',
    median(floors.map((r) => r.peakDisk / inputBytes)),
    '× input (ffmpeg alone)',
    peak,
    goalApplies ? '≤ 1.3× input' : '(curve)',
    goalApplies ? peak <= 1.3 : null,
    'files under LAMBDA_HLS_HOME, sampled every 25 ms',
  );
  const paused = median(ours.map((r) => r.result.stats.ffmpegPausedSeconds / r.result.stats.ffmpegSeconds));
  report(
    `ffmpeg paused by back-pressure, ${n} min`,
    paused * 100,
    '% of its run',
    median(ours.map((r) => r.result.stats.ffmpegSeconds)),
    's ffmpeg ran',
    paused,
    '< 5 %',
    paused < 0.05,
  );
  log(
    `  copy ${n} min: convert ${wall.toFixed(2)} s vs ffmpeg ${floor.toFixed(2)} s (${(wall / floor).toFixed(2)}×); read ${read.toFixed(2)} written ${written.toFixed(2)} per byte; peak disk ${peak.toFixed(2)}×; ffmpeg paused ${(paused * 100).toFixed(1)} %`,
  );
}

// Peak RSS: flat in the input's length.
if (want('copy')) {
  const rss = (n) => median(copyRuns.get(n).ours.map((r) => r.rssBytes));
  const small = rss(2);
  for (const n of lengths.slice(1)) {
    const ratio = rss(n) / small;
    report(
      `peak RSS of convert, ${n} min`,
      rss(n) / MiB,
      'MiB',
      small / MiB,
      'MiB (2 min)',
      ratio,
      '< 200 MiB, ≤ 1.10×',
      rss(n) < 200 * MiB && ratio <= 1.1,
      'the Node process; ffmpeg is a copy with a bounded buffer',
    );
  }
}

// --- 2. functions per hour ------------------------------------------------------------------
if (want('copy')) {
  const { ours, inputBytes } = copyRuns.get(10);
  const seconds = minute * 10;
  const packages = ours[0].result.stats.packages;
  const perHour = (packages * 3600) / seconds;
  const budget = Math.ceil((inputBytes * 3600) / seconds / (45 * MiB));
  report(
    'functions per hour of 8 Mbit/s video',
    perHour,
    'functions',
    budget,
    'functions (bytes / 45 MiB)',
    perHour / budget,
    '≤ 1.0×',
    perHour <= budget,
    `${packages} packages for ${(inputBytes / MiB).toFixed(0)} MiB over ${(seconds / 60).toFixed(1)} min`,
  );
  const homeBig = join(work, 'big-packages');
  const big = await measured(
    process.execPath,
    [CLI, 'convert', inputs.get(10), '--ladder', 'source', '--segment-seconds', '10', '--json'],
    {
      env: { LAMBDA_HLS_HOME: homeBig, LAMBDA_HLS_PACKAGE_BYTES: '250000000' },
    },
  );
  rmSync(homeBig, { recursive: true, force: true });
  const bigPackages = JSON.parse(big.stdout).stats.packages;
  report(
    'functions per hour, LAMBDA_HLS_PACKAGE_BYTES=250 MB',
    (bigPackages * 3600) / seconds,
    'functions',
    budget,
    'functions (bytes / 45 MiB)',
    (bigPackages * 3600) / seconds / budget,
    '≤ 1.0×',
    (bigPackages * 3600) / seconds <= budget,
    `${bigPackages} packages through the S3 path`,
  );
}

// --- 2b. a transcode in 4 chunks at once vs one ffmpeg ----------------------------------------
// The same minute of 1080p (10 s quick), `convert --transcode` with its Map running 4 chunks at
// once (LAMBDA_HLS_ENCODE_CONCURRENCY=4, chunks of a quarter), against one ffmpeg doing the
// single-run transcode the product ran before chunks (same filters, encoder, keyframes, audio).
if (want('transcode')) {
  const segment = QUICK ? 1 : 5;
  const chunk = QUICK ? 3 : 15;
  const floors = [];
  const ours = [];
  for (let i = 0; i < RUNS; i++) {
    const out = join(work, `transcode-floor-${i}`);
    mkdirSync(out);
    settle();
    floors.push(
      await measured(FFMPEG, [
        ...['-hide_banner', '-loglevel', 'error', '-y', '-i', one, '-map', '0:v:0', '-map', '0:a:0'],
        ...['-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23'],
        ...['-pix_fmt', 'yuv420p', '-force_key_frames', `expr:gte(t,n_forced*${segment})`, '-c:a', 'aac', '-b:a', '128k', '-ac', '2'],
        ...['-f', 'segment', '-segment_time', String(segment), '-segment_format', 'mpegts', join(out, '%05d.ts')],
      ]),
    );
    rmSync(out, { recursive: true, force: true });
    const home = join(work, `transcode-${i}`);
    settle();
    const run = await measured(
      process.execPath,
      [CLI, 'convert', one, '--transcode', '--ladder', 'source', '--segment-seconds', String(segment), '--json'],
      {
        env: { LAMBDA_HLS_HOME: home, LAMBDA_HLS_ENCODE_CONCURRENCY: '4', LAMBDA_HLS_CHUNK_SECONDS: String(chunk) },
      },
    );
    run.result = JSON.parse(run.stdout);
    ours.push(run);
    rmSync(home, { recursive: true, force: true });
  }
  const chunks = ours[0].result.stats.chunks;
  const floor = median(floors.map((r) => r.seconds));
  const wall = median(ours.map((r) => r.seconds));
  const minRatio = Math.min(...ours.map((r) => r.seconds)) / Math.min(...floors.map((r) => r.seconds));
  report(
    `transcode wall time, ${chunks} chunks in parallel vs one ffmpeg, 1080p ${minute} s`,
    wall,
    's',
    floor,
    's (one ffmpeg, same transcode)',
    wall / floor,
    `< 1× on ≥ 4 CPUs`,
    cpus().length >= 4 ? wall / floor < 1 : null,
    `median of ${RUNS}; min ratio ${minRatio.toFixed(2)}×; ${cpus().length} CPUs; the whole convert (audio once, packaging) against ffmpeg alone; chunk times ${ours[0].result.stats.chunkSeconds.map((t) => t.toFixed(1)).join(', ')} s`,
  );
}

// --- 2c. the ladder vs ffmpeg's own one-process multi-output ladder --------------------------
// The same minute of 1080p H.264, `convert` with the default ladder (the source copied as its
// 1080p rung, 720p/480p/360p/234p encoded from one decode per chunk, 6-s segments) against one
// ffmpeg making the same rungs in one process: the copy segmented beside a split into the same
// scalers and encoders (libx264 veryfast, the same rates, profiles, VBV and keyframes every 2 s),
// the sound copied into each and the cellular rung's own at 48 kbit/s. Interleaved, min and median.
if (want('ladder')) {
  const rungs = [
    { name: '720p', size: '1280:720', kbps: 2800, max: 3080, buf: 4620, profile: 'high' },
    { name: '480p', size: '854:480', kbps: 1401, max: 1541, buf: 2312, profile: 'main' },
    { name: '360p', size: '640:360', kbps: 800, max: 880, buf: 1320, profile: 'main' },
    { name: '234p', size: '416:234', kbps: 80, max: 88, buf: 132, profile: 'main', low: true },
  ];
  const segmentArgs = (dir) => ['-f', 'segment', '-segment_time', '6', '-segment_format', 'mpegts', join(dir, '%05d.ts')];
  const floorArgs = (out) => {
    const graph = [
      `[0:v:0]split=${rungs.length}${rungs.map((_, i) => `[s${i}]`).join('')}`,
      ...rungs.map((r, i) => `[s${i}]scale=${r.size},format=yuv420p,setsar=1[v${i}]`),
    ].join(';');
    for (const name of ['1080p', ...rungs.map((r) => r.name)]) mkdirSync(join(out, name), { recursive: true });
    return [
      ...['-hide_banner', '-loglevel', 'error', '-y', '-i', one, '-filter_complex', graph],
      ...['-map', '0:v:0', '-map', '0:a:0', '-c', 'copy', ...segmentArgs(join(out, '1080p'))],
      ...rungs.flatMap((r, i) => [
        ...['-map', `[v${i}]`, '-map', '0:a:0', ...(r.low ? ['-c:a', 'aac', '-b:a', '48k', '-ac', '2'] : ['-c:a', 'copy'])],
        ...['-c:v', 'libx264', '-profile:v', r.profile, '-preset', 'veryfast', '-b:v', `${r.kbps}k`, '-maxrate', `${r.max}k`],
        ...['-bufsize', `${r.buf}k`, '-pix_fmt', 'yuv420p', '-force_key_frames', 'expr:gte(t,n_forced*2)'],
        ...segmentArgs(join(out, r.name)),
      ]),
    ];
  };
  const floors = [];
  const ours = [];
  for (let i = 0; i < RUNS; i++) {
    const out = join(work, `ladder-floor-${i}`);
    settle();
    floors.push(await measured(FFMPEG, floorArgs(out)));
    rmSync(out, { recursive: true, force: true });
    const home = join(work, `ladder-${i}`);
    settle();
    const run = await measured(process.execPath, [CLI, 'convert', one, '--json'], { env: { LAMBDA_HLS_HOME: home } });
    run.result = JSON.parse(run.stdout);
    if (run.result.renditions?.length !== rungs.length + 1) throw new Error(`the ladder bench expected 5 rungs: ${run.stdout}`);
    ours.push(run);
    rmSync(home, { recursive: true, force: true });
  }
  const floor = median(floors.map((r) => r.seconds));
  const wall = median(ours.map((r) => r.seconds));
  const minRatio = Math.min(...ours.map((r) => r.seconds)) / Math.min(...floors.map((r) => r.seconds));
  report(
    `ladder transcode (1080p copied + 4 rungs) vs ffmpeg's one-process multi-output ladder, ${minute} s`,
    wall,
    's',
    floor,
    's (one ffmpeg, same rungs and presets)',
    wall / floor,
    '≤ 1.1×',
    wall / floor <= 1.1,
    `median of ${RUNS} interleaved; min ratio ${minRatio.toFixed(2)}× (min ${Math.min(...ours.map((r) => r.seconds)).toFixed(1)} s vs ${Math.min(...floors.map((r) => r.seconds)).toFixed(1)} s); the whole convert (the copy's run, the sound, ${ours[0].result.stats.chunks} chunk(s), packaging) against ffmpeg alone`,
  );
}

// --- 2d. AWS: time to ready for an hour of 1080p, estimated by the planners --------------------
// Not measured (no AWS here): src/core/estimate.ts, the planners a run uses with the deployed
// shape (serverless.yml, the ASL), printed with what it assumes.
if (want('ladder')) {
  const { build } = await import('esbuild');
  const bundled = await build({
    entryPoints: [join(ROOT, 'src', 'core', 'estimate.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
  });
  const { estimateReady } = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString('base64')}`);
  const hour = 3600;
  const job = (copyable) => ({
    source: { key: 'hour.mp4', bytes: (8_000_000 * hour) / 8, extension: '.mp4', kind: 'video' },
    media: {
      formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
      durationSeconds: hour,
      video: {
        codec: copyable ? 'h264' : 'hevc',
        width: 1920,
        height: 1080,
        frameRate: 30,
        profile: copyable ? 'High' : 'Main',
        level: 40,
        pixelFormat: 'yuv420p',
        bitRate: 7_800_000,
      },
      audio: { codec: 'aac', channels: 2, sampleRate: 48_000, profile: 'LC' },
    },
    options: { segmentSeconds: 6, profile: 'source', ladder: 'auto' },
  });
  const deployed = {
    encodeConcurrency: 10,
    encodeSpeedMegapixels: 45,
    encodeTimeoutSeconds: 900,
    encodeMemoryMb: 3008,
    packagingConcurrency: 4,
    packageTimeoutSeconds: 300,
  };
  for (const [what, copyable] of [
    ['H.264 copied as its top rung + 4 encoded', true],
    ['HEVC, all 5 rungs encoded', false],
  ]) {
    const e = estimateReady(job(copyable), deployed);
    const min = (s) => (s / 60).toFixed(1);
    log(
      `  AWS estimate, an hour of 1080p30 at 8 Mbit/s (${what}): ready in ~${min(e.totalSeconds)} min — SegmentMedia ${min(e.segmentSeconds)}, EncodeChunks ${min(e.mapSeconds)} (${e.chunks} chunks, ${e.chunkConcurrency} at once), PackageSegments ${min(e.packagingSeconds)} (${e.packages} packages), MakePreviews ${min(e.previewsSeconds)}; ${(e.storedBytes / 1e9).toFixed(1)} GB of code storage`,
    );
    report(
      `AWS estimate: an hour of 1080p to ready, ${what}`,
      e.totalSeconds / 60,
      'min',
      60,
      'min (the video)',
      e.totalSeconds / 60 / 60,
      'faster than real time',
      e.totalSeconds < hour,
      `estimated, not measured: ${e.assumptions.join('; ')}`,
    );
  }
}

// --- 3. serve route vs a bare Node server -----------------------------------------------------
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

const pct = (share) => `${(share * 100).toFixed(0)} %`;

/** User + system CPU seconds a process has used so far (/proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** autocannon from its own process against one server: rate, p99, and the server's CPU per request. */
function load(server, paths, seconds, expect, workers = 1) {
  const job = { url: `http://127.0.0.1:${server.port}`, paths, seconds, connections: 32, workers, expect };
  const before = cpuSeconds(server.child.pid);
  const run = spawnSync(process.execPath, [LOAD, JSON.stringify(job)], { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (run.status !== 0) throw new Error(`load on ${paths[0]}: ${run.stderr}`);
  const result = JSON.parse(run.stdout);
  const cpu = cpuSeconds(server.child.pid) - before;
  return {
    total: result.requests.total,
    rate: result.requests.total / seconds,
    p99: result.latency.p99,
    cpuPerRequest: cpu / result.requests.total,
    busy: cpu / seconds,
  };
}

if (want('serve')) {
  const seconds = QUICK ? 2 : 6;
  const serveHome = copyRuns.get('serveHome');
  const video = copyRuns.get(10).ours[0].result.videoId;
  const ours = await startChild([CLI, 'serve', '--port', '0'], { LAMBDA_HLS_HOME: serveHome }, /127\.0\.0\.1:(\d+)\//);
  try {
    const playlistPath = `/v/${video}/index.m3u8`;
    const playlist = await (await fetch(`http://127.0.0.1:${ours.port}${playlistPath}`)).text();
    const uris = [...new Set(playlist.split('\n').filter((l) => l.endsWith('.ts')))];
    const segmentPaths = uris.map((u) => `/v/${video}/${u}`);
    // The bare server gives the same answers (status, headers, body) from constants: what is
    // measured is our routing and look-ups, not the size of the answer.
    const headersOf = async (path) => {
      const answer = await fetch(`http://127.0.0.1:${ours.port}${path}`, { redirect: 'manual' });
      const skip = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);
      return Object.fromEntries([...answer.headers].filter(([name]) => !skip.has(name)));
    };
    const answers = { segment: await headersOf(segmentPaths[0]), playlist: await headersOf(playlistPath) };
    const bare = await startChild(
      [
        '-e',
        `const [a, p] = ${JSON.stringify([answers, playlist])};
         require('http').createServer((q, r) => {
           if (q.url.endsWith('.m3u8')) { r.writeHead(200, a.playlist); r.end(p); }
           else { r.writeHead(302, a.segment); r.end(); }
         }).listen(0, '127.0.0.1', function () { console.log('port ' + this.address().port); });`,
      ],
      {},
      /port (\d+)/,
    );
    try {
      const cases = [
        ['segment 302', segmentPaths, ['/s.ts'], 302],
        ['playlist', [playlistPath], ['/index.m3u8'], 200],
      ];
      // Warm: every package's URL cached, both servers' code optimised.
      for (const [, paths, barePaths, status] of cases) {
        load(ours, paths, 1, status);
        load(bare, barePaths, 1, status);
      }
      const before = await (await fetch(`http://127.0.0.1:${ours.port}/api/stats`)).json();
      let requested = 0;
      for (const [name, paths, barePaths, status] of cases) {
        const mine = [];
        const theirs = [];
        for (let i = 0; i < RUNS; i++) {
          theirs.push(load(bare, barePaths, seconds, status));
          mine.push(load(ours, paths, seconds, status));
        }
        if (status === 302) requested += mine.reduce((sum, m) => sum + m.total, 0);
        const rate = median(mine.map((m) => m.rate));
        const bareRate = median(theirs.map((m) => m.rate));
        const cpu = median(mine.map((m) => m.cpuPerRequest));
        const bareCpu = median(theirs.map((m) => m.cpuPerRequest));
        const minRatio = Math.min(...mine.map((m) => m.rate)) / Math.max(...theirs.map((m) => m.rate));
        report(
          `serve ${name}, requests per second`,
          rate,
          'req/s',
          bareRate,
          'req/s (bare Node, same answer)',
          rate / bareRate,
          '≥ 0.8×',
          rate / bareRate >= 0.8,
          `autocannon, 32 connections, ${seconds} s each, median of ${RUNS}; worst ratio ${minRatio.toFixed(2)}×; p99 ${median(mine.map((m) => m.p99))} ms vs ${median(theirs.map((m) => m.p99))} ms; server busy ${pct(median(mine.map((m) => m.busy)))} vs ${pct(median(theirs.map((m) => m.busy)))} of a core`,
        );
        report(
          `serve ${name}, server CPU per request`,
          cpu * 1e6,
          'µs',
          bareCpu * 1e6,
          'µs (bare Node)',
          cpu / bareCpu,
          '≤ 1.5×',
          cpu / bareCpu <= 1.5,
        );
        log(
          `  serve ${name}: ${rate.toFixed(0)} req/s vs bare ${bareRate.toFixed(0)} (${(rate / bareRate).toFixed(2)}×); CPU ${(cpu * 1e6).toFixed(1)} µs vs ${(bareCpu * 1e6).toFixed(1)} µs`,
        );
      }
      // Is the generator the bottleneck? Two autocannon workers against the bare server: if the
      // rate rises much, one was not enough.
      const two = load(bare, ['/s.ts'], seconds, 302, 2);
      const oneWorker = load(bare, ['/s.ts'], seconds, 302, 1);
      report(
        'load generator headroom (bare server, 2 workers vs 1)',
        two.rate,
        'req/s',
        oneWorker.rate,
        'req/s (1 worker)',
        two.rate / oneWorker.rate,
        '≤ 1.1× (one worker saturates the server)',
        two.rate / oneWorker.rate <= 1.1,
      );
      const after = await (await fetch(`http://127.0.0.1:${ours.port}/api/stats`)).json();
      report(
        `code-store URL look-ups for ${requested.toLocaleString('en')} segment requests`,
        after.urlLookups,
        'look-ups',
        uris.length,
        'packages (one each per URL lifetime)',
        after.urlLookups / uris.length,
        '≤ 1.0×',
        after.urlLookups <= uris.length,
        `${before.urlLookups} while warming; ${after.routeLoads} route reads`,
      );
    } finally {
      bare.child.kill();
    }
  } finally {
    ours.child.kill();
  }
}

// --- 4. start-up: only what the command needs is loaded ---------------------------------------
if (want('startup')) {
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
for (const r of results) {
  rows.push([
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    `${fmt(r.baseline)} ${r.baselineUnit}`,
    `${r.ratio.toFixed(2)}×`,
    r.goal,
    r.met === null ? '—' : r.met ? 'yes' : 'NO',
  ]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
process.stdout.write(`\nlambda-hls bench on ${machine}${QUICK ? ' (quick run)' : ''}\n\n`);
for (const row of rows) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i])).join('  ')}\n`);
process.stdout.write('\n');
const lines = results.map((r) => JSON.stringify({ ...r, machine, quick: QUICK, long: LONG }));
for (const line of lines) process.stdout.write(`${line}\n`);
if (!QUICK && !ONLY) writeFileSync(join(ROOT, 'bench', 'latest.jsonl'), `${lines.join('\n')}\n`);
rmSync(work, { recursive: true, force: true });
if (existsSync(work)) log(`could not remove ${work}`);
