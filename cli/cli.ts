// lambda-hls: the command line. Every command works on the embedded default (local adapters under
// $LAMBDA_HLS_HOME, default ./.lambda-hls) with no AWS account; those that take --stage work on a
// deployed stack instead. Each command lives in ./commands and is given its target or backend;
// each is loaded when it runs (`command()`), so `--version` or `list` start without the engine,
// ffmpeg's adapter or the HTTP server.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { localBackend } from '../src/composition/backends/local';
import { InvalidSetting, settings, settingsHelp } from '../src/composition/settings';
import { DEFAULT_OPTIONS, type Profile } from '../src/core/model';
import { describeRenditions, RENDITION_NAMES } from '../src/core/renditions';
import { LADDER_HEIGHTS, parseLadder } from '../src/core/ladder';
import { EXIT_FAILED, EXIT_USAGE, say } from './commands/output';
import { CliError } from './errors';
import type { StageFlags, Target } from './targets';

/** The target the flags name: a stage (its AWS code loaded only then), else the local default. */
async function targetOf(flags: StageFlags): Promise<Target> {
  if (!flags.stage) return (await import('./targets')).localTarget();
  const { stageTarget } = await import('./remote');
  return stageTarget({ stage: flags.stage, ...(flags.region && { region: flags.region }) });
}

/** A command's module, loaded when that command runs (esbuild keeps it in the bundle, evaluated on first use). */
const command = {
  convert: () => require('./commands/convert') as typeof import('./commands/convert'),
  delete: () => require('./commands/delete') as typeof import('./commands/delete'),
  failedUploads: () => require('./commands/failed-uploads') as typeof import('./commands/failed-uploads'),
  demo: () => require('./commands/demo') as typeof import('./commands/demo'),
  gc: () => require('./commands/gc') as typeof import('./commands/gc'),
  history: () => require('./commands/history') as typeof import('./commands/history'),
  list: () => require('./commands/list') as typeof import('./commands/list'),
  serve: () => require('./commands/serve') as typeof import('./commands/serve'),
};

function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

function ladderOption(value: string): ReturnType<typeof parseLadder> {
  try {
    return parseLadder(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^--ladder takes /, 'takes '));
  }
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
    .configureOutput({
      // "unknown option '-clip.mp4'" is often a file name: say how to give one.
      outputError: (text, write) => {
        const option = /unknown option '(-[^']*)'/.exec(text)?.[1];
        write(option ? `${text}(a file named ${option}? write ./${option}, or put it after --)\n` : text);
      },
    })
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
    .description('convert files with the ConvertVideo state machine, one after another, with progress on stderr')
    .argument(
      '<file...>',
      'an .mp4 (H.264 players can decode is copied, anything else transcoded) or .mp3; with --stage also s3://<input bucket>/<key>; a name starting with - goes after --',
    )
    .option('--json', 'print one JSON object per file on stdout, one per line')
    .addOption(
      new Option('--segment-seconds <n>', 'target segment length in seconds')
        .argParser(wholeNumber(1, 60))
        .default(DEFAULT_OPTIONS.segmentSeconds),
    )
    .addOption(new Option('--profile <name>', describeRenditions()).choices([...RENDITION_NAMES]).default(DEFAULT_OPTIONS.profile))
    .option('--transcode', 're-encode H.264 that could be copied, so segments are cut where asked (copying cuts only at keyframes)')
    .addOption(
      new Option(
        '--ladder <rungs>',
        `the adaptive stream's rungs: auto (the default: chosen from the source, never above it; a copyable H.264 source is the top rung as it is), or heights such as 720,360,234 (of ${LADDER_HEIGHTS.join(', ')}); source: one rendition, as --profile says (--profile 360p implies it)`,
      ).argParser(ladderOption),
    )
    .option(
      '--captions <file>',
      'a caption file (.srt or .vtt, UTF-8) to add as subtitles, its language from its name (lecture.en.srt: English); again for more. Files named <video>.<language>.srt|vtt beside the video are added without it',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(
      async (
        files: string[],
        flags: StageFlags & {
          captions?: string[];
          json?: boolean;
          segmentSeconds: number;
          profile: Profile;
          transcode?: boolean;
          ladder?: ReturnType<typeof parseLadder>;
        },
      ) => {
        const options = {
          segmentSeconds: flags.segmentSeconds,
          profile: flags.profile,
          ...(flags.transcode && { transcode: true as const }),
          // --profile 360p is one rendition: the ladder is off unless asked for (and then refused).
          ladder: flags.ladder ?? (flags.profile === DEFAULT_OPTIONS.profile ? DEFAULT_OPTIONS.ladder : 'source'),
        };
        if (flags.profile !== DEFAULT_OPTIONS.profile && flags.ladder !== undefined && flags.ladder !== 'source')
          convert.error(`error: --profile ${flags.profile} is one rendition; --ladder makes its own rungs: give one of them`, {
            exitCode: 2,
          });
        if (flags.captions && files.length > 1)
          convert.error(
            'error: --captions goes with one file (captions named <video>.<language>.srt beside each video are found for each)',
            {
              exitCode: 2,
            },
          );
        process.exitCode = await command
          .convert()
          .runConvertAll(await targetOf(flags), files, options, Boolean(flags.json), flags.captions ?? []);
      },
    );
  stageOptions(convert);

  program
    .command('serve')
    .description('serve playlists, segment redirects and a player page at / until Ctrl-C')
    .addOption(new Option('--port <n>', 'port to listen on').argParser(wholeNumber(0, 65535)).default(8080))
    .option('--host <host>', 'address to listen on (other than 127.0.0.1 exposes it to the network)', '127.0.0.1')
    .action(async (flags: { port: number; host: string }) => {
      process.exitCode = await command.serve().runServe(localBackend(settings()), flags.port, flags.host);
    });

  const history = program
    .command('history')
    .description('show each state of a conversion with status and timing, and why it failed')
    .argument('<id>', 'a video id (its newest execution) or an execution name')
    .option('--json', 'print the history as JSON')
    .action(async (id: string, flags: StageFlags & { json?: boolean }) => {
      process.exitCode = await command.history().runHistory(await targetOf(flags), id, Boolean(flags.json));
    });
  stageOptions(history);

  const list = program
    .command('list')
    .description('list converted videos')
    .option('--json', 'print the list as JSON')
    .action(async (flags: StageFlags & { json?: boolean }) => {
      process.exitCode = await command.list().runList(await targetOf(flags), Boolean(flags.json));
    });
  stageOptions(list);

  const del = program
    .command('delete')
    .description('delete a video: its route, functions, playlists and work files')
    .argument('[videoId]', 'as shown by lambda-hls list')
    .option('--all', 'delete every video, every segment function under the prefix and every work file (before serverless remove)')
    .action(async (videoId: string | undefined, flags: StageFlags & { all?: boolean }) => {
      const usage = command.delete().deleteUsageError(videoId, Boolean(flags.all));
      if (usage) throw new CliError(usage);
      process.exitCode = await command.delete().runDelete(await targetOf(flags), videoId);
    });
  stageOptions(del);

  const gc = program
    .command('gc')
    .description('remove functions and objects that no video and no running conversion owns (left by killed runs)')
    .option('--dry-run', 'only list what would be removed')
    .option('--json', 'print { dryRun, functions, objects } on stdout')
    .action(async (flags: StageFlags & { dryRun?: boolean; json?: boolean }) => {
      process.exitCode = await command.gc().runGc(await targetOf(flags), Boolean(flags.dryRun), Boolean(flags.json));
    });
  stageOptions(gc);

  const failed = program
    .command('failed-uploads')
    .description(
      "with --stage: list the uploads whose conversion could not be started (start-conversion failed after Lambda's retries), kept 14 days",
    )
    .option('--retry', "start each one's conversion from its upload event; those started leave the list")
    .option('--json', 'print { failedUploads, unreadable } on stdout')
    .action(async (flags: StageFlags & { retry?: boolean; json?: boolean }) => {
      process.exitCode = await command.failedUploads().runFailedUploads(await targetOf(flags), Boolean(flags.retry), Boolean(flags.json));
    });
  stageOptions(failed);

  program
    .command('demo')
    .description('make a 30-second test clip, convert it, then serve it')
    .option('--no-serve', 'stop after converting')
    .addOption(new Option('--port <n>', 'port to serve on').argParser(wholeNumber(0, 65535)).default(8080))
    .action(async (flags: { serve: boolean; port: number }) => {
      process.exitCode = await command.demo().runDemo(localBackend(settings()), flags.serve, flags.port);
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
    if (error instanceof CliError || error instanceof InvalidSetting) {
      say(`lambda-hls: ${error.message}`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    say(`lambda-hls: ${(error as Error).message}`);
    if ((error as Error).name === 'CredentialsProviderError') {
      say('  --stage needs AWS credentials for the account the stack is in: set AWS_PROFILE, or run aws configure / aws sso login');
    }
    process.exitCode = EXIT_FAILED;
  }
}

if (require.main === module) void main(process.argv);
