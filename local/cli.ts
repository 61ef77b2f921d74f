// lambda-hls: the command line. Every command works on the embedded default (local adapters under
// $LAMBDA_HLS_HOME, default ./.lambda-hls) with no AWS account.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { connectStage, type StageBackend, type StageTarget } from '../src/composition/backends/aws';
import { localBackend, type LocalBackend } from '../src/composition/backends/local';
import { InvalidSetting, settings, settingsHelp } from '../src/composition/settings';
import { DEFAULT_OPTIONS, PROFILES, type ConversionOptions, type Profile, type RouteRecord } from '../src/core/model';
import { isVideoId, parseExecutionName } from '../src/core/naming';
import { deleteEverything, deleteVideo } from '../src/registry/deletion';
import { collectGarbage, type RunningExecutions } from '../src/registry/gc';
import { byNewest, listRoutes, routeSummary } from '../src/registry/routes';
import { convertFile, type ConvertResult } from './convert';
import { CliError } from './errors';
import {
  executionStats,
  failedState,
  summarizeStates,
  type ExecutionStats,
  type FailureSummary,
  type StateSummary,
} from '../src/core/history';
import { ExecutionStore } from './executions';
import { progressReporter } from './progress';
import { startServer } from './server';

/** Following and reading executions in AWS, loaded only for --stage: local commands start without the AWS SDK. */
const aws = () => import('./remote');

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function stderr(text: string): void {
  process.stderr.write(`${text}\n`);
}

function local(): LocalBackend {
  return localBackend(settings());
}

function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** "1 package", "3 packages", "2 batches". */
function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return s === 60 ? `${m + 1}:00` : `${m}:${String(s).padStart(2, '0')}`;
}

interface StageFlags {
  stage?: string;
  region?: string;
}

function remoteTarget(flags: StageFlags): StageTarget | undefined {
  return flags.stage ? { stage: flags.stage, ...(flags.region && { region: flags.region }) } : undefined;
}

/** The stores list and delete work on, locally or in the stage's stack, and where a playlist is played from. */
async function registryPorts(flags: StageFlags) {
  const target = remoteTarget(flags);
  if (target) {
    const { playlistUrl } = await aws();
    const remote: StageBackend = await connectStage(target);
    return {
      remote,
      objects: remote.objects,
      code: remote.code,
      functionPrefix: remote.functionPrefix,
      playlistOf: (r: RouteRecord) => playlistUrl(remote.stack, r.videoId),
    };
  }
  const backend = local();
  return {
    remote: undefined,
    objects: backend.objects,
    code: backend.code,
    functionPrefix: backend.settings.functionPrefix,
    playlistOf: (r: RouteRecord) => backend.objects.pathOf('output', r.playlistKey),
  };
}

async function runConvert(file: string, flags: StageFlags & { json?: boolean; segmentSeconds: number; profile: Profile }): Promise<number> {
  const options: ConversionOptions = { segmentSeconds: flags.segmentSeconds, profile: flags.profile };
  const target = remoteTarget(flags);
  let result: ConvertResult;
  let playHint: string;
  try {
    if (target) {
      const { convertRemote } = await aws();
      const remote = await connectStage(target);
      if (!flags.json) stderr(`lambda-hls: converting ${file} on ${remote.stack.stackName} (${remote.region})`);
      result = await convertRemote(file, remote, {
        options,
        onEvent: progressReporter(process.stderr),
        onStart: (name, how) => {
          if (flags.json) return;
          const what = { uploaded: 'uploaded; the S3 trigger starts', started: 'started', exists: 'already under way:' }[how];
          stderr(`  ${what} execution ${name}`);
        },
      });
      playHint = `play it   in Safari or VLC (Chrome and Firefox: see the README), or ffplay ${result.playlist ?? ''}`;
    } else {
      const backend = local();
      if (!flags.json) stderr(`lambda-hls: converting ${file}`);
      result = await convertFile(file, {
        backend,
        options,
        onEvent: progressReporter(process.stderr),
        onWait: (pid) => {
          if (!flags.json) stderr(`  waiting: another lambda-hls (pid ${pid}) is converting a file of this name`);
        },
      });
      playHint = `play it   lambda-hls serve, then open http://127.0.0.1:8080/ (or /v/${result.videoId}/index.m3u8)`;
    }
  } catch (error) {
    if (error instanceof CliError || error instanceof InvalidSetting) {
      stderr(`lambda-hls: ${error.message}`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const json = {
    status: result.status,
    videoId: result.videoId,
    executionName: result.executionName,
    playlist: result.playlist,
    segments: result.segments,
    stats: result.stats,
    ...(result.error && { error: result.error }),
  };
  if (flags.json) process.stdout.write(`${JSON.stringify(json)}\n`);
  if (result.status === 'SUCCEEDED') {
    if (!flags.json) {
      if (result.reused) stderr(`  already converted: nothing to do (execution ${result.executionName})`);
      stderr(`lambda-hls: ${result.videoId} is ready: ${result.segments} segments`);
      stderr(`  playlist  ${result.playlist}`);
      stderr(`  ${playHint}`);
    }
    return 0;
  }
  if (!flags.json) {
    const e = result.error;
    stderr(`lambda-hls: conversion failed in ${e?.state ?? 'an unknown state'}: ${e?.error ?? 'error'}: ${e?.cause ?? ''}`);
    stderr(`  details   lambda-hls history ${result.executionName}${flags.stage ? ` --stage ${flags.stage}` : ''}`);
  }
  return EXIT_FAILED;
}

async function runServe(flags: { port: number; host: string }): Promise<number> {
  const backend = local();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ backend, host: flags.host, port: flags.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      stderr(`lambda-hls: port ${flags.port} is in use; pick another with --port`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const routes = await listRoutes(backend.objects);
  stderr(`lambda-hls: serving ${routes.length} video${routes.length === 1 ? '' : 's'} at ${server.url}/`);
  for (const r of routes) stderr(`  ${server.url}/v/${r.videoId}/index.m3u8  ${r.sourceKey}`);
  if (flags.host !== '127.0.0.1' && flags.host !== 'localhost' && flags.host !== '::1') {
    stderr(`  note: listening on ${flags.host}, so other machines can reach it`);
  }
  stderr('  press Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}

interface HistoryView {
  executionName: string;
  videoId: string;
  sourceKey: string;
  status: string;
  startedAt: string;
  stoppedAt?: string;
  states: StateSummary[];
  stats: ExecutionStats;
  error?: FailureSummary;
}

/** Prints one execution's history the same way, whether it ran here or in AWS. */
function printHistory(view: HistoryView, json: boolean | undefined): void {
  const { states, error } = view;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        executionName: view.executionName,
        videoId: view.videoId,
        status: view.status,
        startedAt: view.startedAt,
        stoppedAt: view.stoppedAt ?? null,
        states: states.map((s) => ({
          state: s.state,
          status: s.status,
          startedAt: new Date(s.startedAt).toISOString(),
          seconds: s.stoppedAt !== undefined ? (s.stoppedAt - s.startedAt) / 1000 : null,
          retries: s.retries,
          ...(s.callRetries && { callRetries: s.callRetries }),
          ...(s.iterations && { iterations: s.iterations }),
          ...(s.packages !== undefined && { packages: s.packages }),
          ...(s.error && { error: s.error, cause: s.cause }),
        })),
        stats: view.stats,
        ...(error && { error }),
      })}\n`,
    );
    return;
  }
  const out: string[] = [];
  out.push(`execution  ${view.executionName}`);
  out.push(`video      ${view.videoId} (${view.sourceKey})`);
  out.push(`status     ${view.status}`);
  out.push(`started    ${view.startedAt}${view.stoppedAt ? `   stopped ${view.stoppedAt}` : ''}`);
  out.push('');
  out.push(`  ${'STATE'.padEnd(16)} ${'STATUS'.padEnd(10)} ${'TIME'.padStart(8)}  NOTES`);
  for (const s of states) {
    const time = s.stoppedAt !== undefined ? `${((s.stoppedAt - s.startedAt) / 1000).toFixed(1)}s` : '-';
    const notes = [
      s.iterations && `${s.iterations.succeeded}/${plural(s.iterations.started, 'batch', 'batches')}`,
      s.packages !== undefined && plural(s.packages, 'package'),
      s.retries > 0 && `${s.retries} retr${s.retries === 1 ? 'y' : 'ies'}`,
      s.callRetries && `${s.callRetries} call${s.callRetries === 1 ? '' : 's'} retried in-step`,
      s.error && `${s.error}`,
    ].filter(Boolean);
    out.push(`  ${s.state.padEnd(16)} ${s.status.padEnd(10)} ${time.padStart(8)}  ${notes.join(', ')}`);
  }
  const { stats } = view;
  out.push('');
  out.push(
    `size       ${plural(stats.segments, 'segment')}, ${plural(stats.packages, 'package')}, largest state ${stats.maxStatePayloadBytes} bytes (limit 262144), ${stats.historyEvents} history events (limit 25000)`,
  );
  if (error) {
    out.push('');
    out.push(`failed state  ${error.state}`);
    out.push(`error         ${error.error}`);
    out.push(`cause         ${error.cause}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

async function runHistory(id: string, flags: StageFlags & { json?: boolean }): Promise<number> {
  const target = remoteTarget(flags);
  if (target) {
    const { failureOf, findExecution, remoteHistory } = await aws();
    const remote = await connectStage(target);
    const name = await findExecution(remote, id);
    const found = name ? await remoteHistory(remote, name) : undefined;
    if (!found) {
      stderr(`lambda-hls: no execution or video named ${id} on ${remote.stack.stackName} (see lambda-hls list --stage ${target.stage})`);
      return EXIT_FAILED;
    }
    const { description, events, stats } = found;
    const error = failureOf(description, events);
    printHistory(
      {
        executionName: description.name,
        videoId: found.videoId,
        sourceKey: found.sourceKey,
        status: description.status,
        startedAt: description.startedAt,
        ...(description.stoppedAt && { stoppedAt: description.stoppedAt }),
        states: summarizeStates(events),
        stats,
        ...(error && { error }),
      },
      flags.json,
    );
    return 0;
  }
  const store = new ExecutionStore(settings().home);
  const record = store.find(id);
  if (!record) {
    stderr(`lambda-hls: no execution or video named ${id} (see lambda-hls list)`);
    return EXIT_FAILED;
  }
  const events = store.events(record.executionName);
  const error = record.error ?? (record.status === 'FAILED' ? failedState(events) : undefined);
  printHistory(
    {
      executionName: record.executionName,
      videoId: record.videoId,
      sourceKey: record.sourceKey,
      status: record.status,
      startedAt: record.startedAt,
      ...(record.stoppedAt && { stoppedAt: record.stoppedAt }),
      states: summarizeStates(events),
      stats: executionStats(events),
      ...(error && { error }),
    },
    flags.json,
  );
  return 0;
}

async function runList(flags: StageFlags & { json?: boolean }): Promise<number> {
  const ports = await registryPorts(flags);
  const routes = (await listRoutes(ports.objects)).sort(byNewest);
  if (flags.json) {
    const videos = routes.map((r) => ({ ...routeSummary(r), playlist: ports.playlistOf(r) }));
    process.stdout.write(`${JSON.stringify(videos)}\n`);
    return 0;
  }
  if (routes.length === 0) {
    stderr(`no videos yet: convert one with lambda-hls convert <file.mp4|file.mp3>${flags.stage ? ` --stage ${flags.stage}` : ''}`);
    return 0;
  }
  const width = Math.max(8, ...routes.map((r) => r.videoId.length));
  process.stdout.write(`${'VIDEO'.padEnd(width)}  KIND   LENGTH  SEGMENTS  NAME\n`);
  for (const r of routes) {
    process.stdout.write(
      `${r.videoId.padEnd(width)}  ${r.kind.padEnd(5)}  ${duration(r.durationSeconds).padStart(6)}  ${String(r.segmentCount).padStart(8)}  ${r.sourceKey}\n`,
    );
  }
  return 0;
}

async function runDelete(videoId: string | undefined, flags: StageFlags & { all?: boolean }): Promise<number> {
  if (Boolean(flags.all) === (videoId !== undefined)) {
    stderr('lambda-hls: give either a video id or --all');
    return EXIT_USAGE;
  }
  if (videoId !== undefined && !isVideoId(videoId)) {
    stderr(`lambda-hls: ${JSON.stringify(videoId)} is not a video id (see lambda-hls list)`);
    return EXIT_USAGE;
  }
  const ports = await registryPorts(flags);
  if (videoId === undefined) {
    const removed = await deleteEverything(ports);
    stderr(`lambda-hls: deleted every video: ${removed.functions} functions, ${removed.objects} objects`);
    return 0;
  }
  const removed = await deleteVideo(ports, videoId);
  if (removed.functions === 0 && removed.objects === 0) {
    stderr(`lambda-hls: no video ${videoId}`);
    return EXIT_FAILED;
  }
  stderr(`lambda-hls: deleted ${videoId}: ${removed.functions} functions, ${removed.objects} objects`);
  return 0;
}

async function runGc(flags: StageFlags & { dryRun?: boolean; json?: boolean }): Promise<number> {
  const ports = await registryPorts(flags);
  const { remote } = ports;
  const runningNow = async (): Promise<RunningExecutions> => {
    if (remote) {
      const names = await remote.executions.running();
      const revisions = names.flatMap((n) => {
        const parsed = parseExecutionName(n);
        return parsed ? [`${parsed.videoId}/${parsed.revision}`] : [];
      });
      return { revisions: new Set(revisions), sources: new Set() };
    }
    const running = new ExecutionStore(settings().home).all().filter((r) => r.status === 'RUNNING');
    return { revisions: new Set(running.map((r) => `${r.videoId}/${r.revision}`)), sources: new Set(running.map((r) => r.sourceKey)) };
  };
  const report = await collectGarbage(ports, runningNow, { dryRun: flags.dryRun, inputIsScratch: !remote });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ dryRun: Boolean(flags.dryRun), ...report })}\n`);
    return 0;
  }
  const verb = flags.dryRun ? 'would remove' : 'removed';
  for (const name of report.functions) stderr(`  ${verb} function ${name}`);
  for (const path of report.objects) stderr(`  ${verb} object ${path}`);
  stderr(
    `lambda-hls: gc ${verb} ${report.functions.length} functions and ${report.objects.length} objects that no video and no running conversion owns`,
  );
  return 0;
}

async function runDemo(flags: { serve: boolean; port: number }): Promise<number> {
  const backend = local();
  const dir = join(backend.settings.home, 'demo');
  await mkdir(dir, { recursive: true });
  const clip = join(dir, 'lambda-hls demo.mp4');
  stderr(`lambda-hls demo: making a 30-second test clip with ffmpeg (${clip})`);
  await backend.media.testClip(clip, 30);
  const code = await runConvert(clip, { ...DEFAULT_OPTIONS });
  if (code !== 0 || !flags.serve) return code;
  return runServe({ port: flags.port, host: '127.0.0.1' });
}

/** --stage switches a command from the embedded default to a deployed stack. */
function stageOptions(command: Command): void {
  command
    .option('--stage <name>', 'work on the stack deployed with serverless deploy --stage <name> instead of locally')
    .option('--region <region>', 'AWS region of that stack (default $AWS_REGION, else us-east-1)');
}

export function buildProgram(): Command {
  const program = new Command('lambda-hls')
    .description(
      'Turn an .mp4 or .mp3 into an HLS stream whose segments live inside Lambda code packages.\n' +
        'Runs the ConvertVideo state machine locally (no AWS account needed); data lives in\n' +
        '$LAMBDA_HLS_HOME (default ./.lambda-hls).',
    )
    .version(require('../package.json').version as string)
    .showHelpAfterError('(run with --help for usage)')
    // Set before the commands are added so they inherit it: usage errors end in main() with exit 2.
    .exitOverride()
    .addHelpText(
      'after',
      '\nExamples:\n  lambda-hls convert "My holiday clip.MP4"\n  lambda-hls serve --port 8080\n  lambda-hls history my-holiday-clip-1a2b3c\n' +
        '  lambda-hls convert lecture.MP4 --stage dev      (in AWS: upload, then follow the execution)\n' +
        '  lambda-hls history lecture-9f8e7d --stage dev\n' +
        `\nEnvironment:\n${settingsHelp()}\n` +
        '\nExit codes: 0 success, 1 conversion failed or not found, 2 bad usage (or a setting it cannot use).',
    );

  const convert = program
    .command('convert')
    .description('convert a file with the ConvertVideo state machine, with progress on stderr')
    .argument('<file>', 'an .mp4 (any codec; H.264 is copied, others transcoded) or .mp3; with --stage also s3://<input bucket>/<key>')
    .option('--json', 'print one JSON object with the result on stdout')
    .addOption(
      new Option('--segment-seconds <n>', 'target segment length in seconds')
        .argParser(wholeNumber(1, 60))
        .default(DEFAULT_OPTIONS.segmentSeconds),
    )
    .addOption(
      new Option('--profile <name>', 'source: keep H.264 as it is; 360p: 640x360 baseline 3.0')
        .choices([...PROFILES])
        .default(DEFAULT_OPTIONS.profile),
    )
    .action(async (file: string, flags) => {
      process.exitCode = await runConvert(file, flags);
    });
  stageOptions(convert);

  program
    .command('serve')
    .description('serve playlists, segment redirects and a player page at / until Ctrl-C')
    .addOption(new Option('--port <n>', 'port to listen on').argParser(wholeNumber(0, 65535)).default(8080))
    .option('--host <host>', 'address to listen on (other than 127.0.0.1 exposes it to the network)', '127.0.0.1')
    .action(async (flags) => {
      process.exitCode = await runServe(flags);
    });

  const history = program
    .command('history')
    .description('show each state of a conversion with status and timing, and why it failed')
    .argument('<id>', 'a video id (its newest execution) or an execution name')
    .option('--json', 'print the history as JSON')
    .action(async (id: string, flags) => {
      process.exitCode = await runHistory(id, flags);
    });
  stageOptions(history);

  const list = program
    .command('list')
    .description('list converted videos')
    .option('--json', 'print the list as JSON')
    .action(async (flags) => {
      process.exitCode = await runList(flags);
    });
  stageOptions(list);

  const del = program
    .command('delete')
    .description('delete a video: its route, functions, playlists and work files')
    .argument('[videoId]', 'as shown by lambda-hls list')
    .option('--all', 'delete every video, every segment function under the prefix and every work file (before serverless remove)')
    .action(async (videoId: string | undefined, flags) => {
      process.exitCode = await runDelete(videoId, flags);
    });
  stageOptions(del);

  const gc = program
    .command('gc')
    .description('remove functions and objects that no video and no running conversion owns (left by killed runs)')
    .option('--dry-run', 'only list what would be removed')
    .option('--json', 'print { dryRun, functions, objects } on stdout')
    .action(async (flags) => {
      process.exitCode = await runGc(flags);
    });
  stageOptions(gc);

  program
    .command('demo')
    .description('make a 30-second test clip, convert it, then serve it')
    .option('--no-serve', 'stop after converting')
    .addOption(new Option('--port <n>', 'port to serve on').argParser(wholeNumber(0, 65535)).default(8080))
    .action(async (flags) => {
      process.exitCode = await runDemo(flags);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with code 0
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (error instanceof InvalidSetting) {
      stderr(`lambda-hls: ${error.message}`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    stderr(`lambda-hls: ${(error as Error).message}`);
    if ((error as Error).name === 'CredentialsProviderError') {
      stderr('  --stage needs AWS credentials for the account the stack is in: set AWS_PROFILE, or run aws configure / aws sso login');
    }
    process.exitCode = EXIT_FAILED;
  }
}

if (require.main === module) void main(process.argv);
