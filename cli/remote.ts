// The CLI against a deployed stage (`--stage <name>`): the stack's outputs are looked up, files go
// to the input bucket (the S3 trigger starts the conversion), executions are followed and read
// back from Step Functions, and list/delete use the same registry code as the local backend.
import { basename, resolve } from 'node:path';
import type { ExecutionDescription, StepFunctionsExecutions } from '../src/adapters/aws/executions';
import { historyTranslator, storedEventsFromHistory } from '../src/adapters/aws/history';
import type { StackOutputs } from '../src/adapters/aws/stack';
import { connectStage, type StageBackend, type StageTarget } from '../src/composition/backends/aws';
import { conversionNotes, executionStats, failedState, summarizeStates, type FailureSummary, type StoredEvent } from '../src/core/history';
import { conversionFor } from '../src/core/conversion';
import { DEFAULT_OPTIONS, type ConversionOptions, type ExecutionInput } from '../src/core/model';
import {
  isSupportedKey,
  parseExecutionName,
  playbackPath,
  posterPath,
  renditionPlaybackPath,
  storyboardPath,
  videoIdFor,
  videoIdSecretCheck,
} from '../src/core/naming';
import { settings } from '../src/composition/settings';
import type { ConvertResult } from './convert';
import { deleteVideo } from '../src/registry/deletion';
import { readRouteTolerant } from '../src/registry/routes';
import { startExecutionAttempt } from '../src/start-execution';
import { parseS3Event, startConversion } from '../src/steps/start-conversion';
import { checkIsFile, CliError } from './errors';
import { Interrupted } from '../src/core/errors';
import { conversionProgress } from './progress';
import type { RenditionRoute } from '../src/steps/register-route';
import type { HistoryView, Target } from './targets';
import { captionsOf, picturesOf } from './commands/output';

export function playlistUrl(stack: StackOutputs, videoId: string): string {
  return `${stack.playbackBaseUrl.replace(/\/$/, '')}${playbackPath(videoId)}`;
}

/**
 * Where else a deployed video plays: its hosted page (the link to share: it plays in every
 * browser), and its proxied playlist on the delivery route (for web players on other pages).
 */
export function stageLinks(stack: StackOutputs, videoId: string): { watch: string; proxiedPlaylist: string } {
  return {
    watch: `${stack.playbackBaseUrl.replace(/\/$/, '')}/watch/${videoId}`,
    proxiedPlaylist: `${stack.deliveryBaseUrl.replace(/\/$/, '')}${playbackPath(videoId)}`,
  };
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface FollowOptions {
  onEvent?: (event: StoredEvent) => void;
  pollMs?: number;
  /** How long to wait for the S3 trigger to start the execution. */
  startTimeoutMs?: number;
  /** Stops following (Ctrl-C): the execution goes on in AWS. */
  signal?: AbortSignal;
}

/**
 * The secret the stage mixes into its video ids, as the CLI must hold it to name what the stage
 * names: LAMBDA_HLS_VIDEO_ID_SECRET, checked against the stack's VideoIdSecretCheck output.
 */
export function stageVideoIdSecret(stack: StackOutputs, secret = settings().videoIdSecret): string {
  const stage = stack.stackName.replace(/^lambda-hls-/, '');
  if (stack.videoIdSecretCheck && !secret) {
    throw new CliError(
      `stage ${stage} mixes a secret into its video ids: set LAMBDA_HLS_VIDEO_ID_SECRET to the videoIdSecret it was deployed with`,
    );
  }
  if (stack.videoIdSecretCheck && videoIdSecretCheck(secret) !== stack.videoIdSecretCheck) {
    throw new CliError(`LAMBDA_HLS_VIDEO_ID_SECRET is not the videoIdSecret stage ${stage} was deployed with`);
  }
  if (!stack.videoIdSecretCheck && secret) {
    throw new CliError(`stage ${stage} mixes no secret into its video ids: unset LAMBDA_HLS_VIDEO_ID_SECRET for it`);
  }
  return secret;
}

/** Waits for the execution to exist and to end, passing its events on as they arrive. */
export async function follow(executions: StepFunctionsExecutions, name: string, options: FollowOptions = {}) {
  const pollMs = options.pollMs ?? 2000;
  const sleep = async (ms: number) => {
    await pause(ms);
    if (options.signal?.aborted) {
      throw new Interrupted(
        `stopped following execution ${name} (${String(options.signal.reason)}): it goes on in AWS; lambda-hls history ${name} shows it`,
      );
    }
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let description = await executions.describe(name);
  while (!description) {
    if (Date.now() > deadline) {
      throw new CliError(
        `execution ${name} did not start within ${Math.round((options.startTimeoutMs ?? 60_000) / 1000)} s: is the input bucket's trigger deployed? (see start-conversion's logs)`,
      );
    }
    await sleep(pollMs);
    description = await executions.describe(name);
  }
  const translate = historyTranslator(conversionProgress());
  const events: StoredEvent[] = [];
  let lastId = 0;
  for (;;) {
    const running = description.status === 'RUNNING';
    const fresh = await executions.history(name, lastId);
    lastId = fresh.at(-1)?.id ?? lastId;
    for (const event of translate(fresh)) {
      events.push(event);
      options.onEvent?.(event);
    }
    if (!running) return { description, events, historyEvents: lastId };
    await sleep(pollMs);
    description = (await executions.describe(name)) ?? description;
  }
}

/** Why an execution that ended without success did so: from its events, else from DescribeExecution. */
export function failureOf(description: ExecutionDescription, events: readonly StoredEvent[]): FailureSummary | undefined {
  if (description.status === 'SUCCEEDED' || description.status === 'RUNNING') return undefined;
  return failedState(events) ?? { state: 'unknown', error: description.error ?? description.status, cause: description.cause ?? '' };
}

function resultOf(
  stack: StackOutputs,
  videoId: string,
  description: ExecutionDescription,
  events: StoredEvent[],
  historyEvents: number,
): ConvertResult {
  const output = description.output as
    | { segmentCount?: number; renditions?: RenditionRoute[]; poster?: string; storyboard?: string }
    | undefined;
  const succeeded = description.status === 'SUCCEEDED';
  const base = stack.playbackBaseUrl.replace(/\/$/, '');
  const error = failureOf(description, events);
  return {
    status: succeeded ? 'SUCCEEDED' : 'FAILED',
    videoId,
    executionName: description.name,
    playlist: succeeded ? playlistUrl(stack, videoId) : null,
    segments: output?.segmentCount ?? 0,
    ...(succeeded && output?.renditions && { renditions: output.renditions.map((r) => ({ ...r, playlist: `${base}${r.playlist}` })) }),
    ...(succeeded && output?.poster && { poster: `${base}${output.poster}` }),
    ...(succeeded && output?.storyboard && { storyboard: `${base}${output.storyboard}` }),
    reused: false,
    // AWS numbers its events from one: the last id is the history's length.
    stats: executionStats(events, historyEvents),
    ...conversionNotes(events),
    ...(error && { error }),
  };
}

/** s3://bucket/key → parts, or undefined for anything else. */
export function parseS3Url(text: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(text);
  return match ? { bucket: match[1]!, key: match[2]! } : undefined;
}

export interface RemoteConvertOptions extends FollowOptions {
  options: ConversionOptions;
  /** Called once the execution's name is known. */
  onStart?: (executionName: string, how: 'uploaded' | 'started' | 'exists') => void;
}

/**
 * The execution the S3 trigger starts for an upload. Its name holds the upload's sequencer, which
 * only S3's event carries, so it is found instead: the newest execution of the video whose input
 * names the key and that started no earlier than the object was written (S3's LastModified and
 * Step Functions' start date are both AWS's clock).
 */
async function executionOfUpload(
  executions: StepFunctionsExecutions,
  videoId: string,
  key: string,
  writtenAt: number,
  options: FollowOptions,
  stage = '',
): Promise<string> {
  const pollMs = options.pollMs ?? 2000;
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const name = await executions.latestFor(videoId);
    const description = name ? await executions.describe(name) : undefined;
    const input = description?.input as Partial<ExecutionInput> | undefined;
    if (name && description && input?.source?.key === key && Date.parse(description.startedAt) >= writtenAt) return name;
    if (Date.now() > deadline) {
      throw new CliError(
        `no execution started for ${key} within ${Math.round(timeoutMs / 1000)} s: is the input bucket's trigger deployed? (see start-conversion's logs; ` +
          `Lambda retries a failed start for about 3 minutes, then lambda-hls failed-uploads${stage} lists it)`,
      );
    }
    await pause(pollMs);
    if (options.signal?.aborted) {
      throw new Interrupted(`stopped waiting for the execution of ${key} (${String(options.signal.reason)}): it goes on in AWS`);
    }
  }
}

/**
 * `convert <file> --stage`: uploads the file to the input bucket under its base name and follows
 * the execution the S3 trigger starts. `convert s3://<input bucket>/<key> --stage`: starts (or
 * finds) the execution for an object already there, with any options.
 */
export async function convertRemote(source: string, ports: StageBackend, options: RemoteConvertOptions): Promise<ConvertResult> {
  // Before anything is uploaded: the execution's name is predicted from the video id.
  const scheme = { secret: stageVideoIdSecret(ports.stack), functionPrefix: ports.stack.functionPrefix };
  const s3Url = parseS3Url(source);
  let key: string;
  let executionName: string;
  if (s3Url) {
    if (s3Url.bucket !== ports.stack.inputBucket) {
      throw new CliError(`${source}: only objects in the input bucket ${ports.stack.inputBucket} can be converted; copy it there first`);
    }
    key = s3Url.key;
    const head = await ports.objects.head('input', key);
    if (!head) throw new CliError(`${source}: no such object`);
    const conversion = conversionFor(key, head.version ?? 'unversioned', options.options, scheme);
    const videoId = videoIdFor(key, scheme);
    const served = async () => (await readRouteTolerant(ports.objects, videoId)).route?.revision === conversion.input.revision;
    const started = await startExecutionAttempt(
      ports.executions,
      conversion.executionName,
      conversion.input satisfies ExecutionInput,
      served,
    );
    executionName = started.executionName;
    options.onStart?.(executionName, started.result);
  } else {
    checkIsFile(source);
    const path = resolve(source);
    key = basename(path);
    if (!isSupportedKey(key)) {
      throw new CliError(`${source}: only .mp4 and .mp3 files are converted (the input bucket's trigger ignores others)`);
    }
    if (JSON.stringify(options.options) !== JSON.stringify(DEFAULT_OPTIONS)) {
      throw new CliError(
        'an upload is converted by the S3 trigger with the default options; to use others, upload it, then run ' +
          `lambda-hls convert s3://${ports.stack.inputBucket}/${key} with them`,
      );
    }
    await ports.objects.putFile('input', key, path);
    const head = await ports.objects.head('input', key);
    // LastModified is in whole seconds: the execution starts in that second or after.
    const writtenAt = head?.modifiedAt ?? Date.now() - 1000;
    const stage = ` --stage ${ports.stack.stackName.replace(/^lambda-hls-/, '')}`;
    executionName = await executionOfUpload(ports.executions, videoIdFor(key, scheme), key, writtenAt, options, stage);
    options.onStart?.(executionName, 'uploaded');
  }
  const { description, events, historyEvents } = await follow(ports.executions, executionName, options);
  return resultOf(ports.stack, videoIdFor(key, scheme), description, events, historyEvents);
}

/** An execution name, or the newest execution of a video id. */
/** An execution name, or the newest execution of a video id. */
async function findExecution(stage: StageBackend, id: string): Promise<string | undefined> {
  if (await stage.executions.describe(id)) return id;
  return stage.executions.latestFor(id);
}

/** One execution's history from GetExecutionHistory, read like a local one. */
export async function remoteHistory(stage: StageBackend, id: string): Promise<HistoryView | undefined> {
  const name = await findExecution(stage, id);
  const description = name ? await stage.executions.describe(name) : undefined;
  if (!name || !description) return undefined;
  const raw = await stage.executions.history(name);
  const events = storedEventsFromHistory(raw, conversionProgress());
  const input = description.input as Partial<ExecutionInput> | undefined;
  const sourceKey = typeof input?.source?.key === 'string' ? input.source.key : '';
  const error = failureOf(description, events);
  return {
    executionName: description.name,
    // From the execution's name (`<videoId>-<revision>`): no secret needed to read a history.
    videoId: parseExecutionName(description.name)?.videoId ?? '',
    sourceKey,
    status: description.status,
    startedAt: description.startedAt,
    ...(description.stoppedAt && { stoppedAt: description.stoppedAt }),
    states: summarizeStates(events),
    // AWS numbers its events from one: the last id is the history's length.
    stats: executionStats(events, raw.length),
    ...(error && { error }),
  };
}

const STARTED = { uploaded: 'uploaded; the S3 trigger starts', started: 'started', exists: 'already under way:' } as const;

/** A deployed stage as the CLI's target: its stack found once, its stores and executions behind it. */
export async function stageTarget(target: StageTarget): Promise<Target> {
  const stage = await connectStage(target);
  return {
    flags: ` --stage ${target.stage}`,
    where: ` on ${stage.stack.stackName} (${stage.region})`,
    inputIsScratch: false,
    stores: () => ({ objects: stage.objects, code: stage.code, functionPrefix: stage.functionPrefix }),
    // A conversion may be under way in AWS: the record becomes a deletion's mark, which its RegisterRoute finds.
    removeVideo: (videoId) =>
      deleteVideo({ objects: stage.objects, code: stage.code, functionPrefix: stage.functionPrefix }, videoId, Date.now()),
    playlistOf: (route) => playlistUrl(stage.stack, route.videoId),
    renditionPlaylistOf: (route, rendition) =>
      `${stage.stack.playbackBaseUrl.replace(/\/$/, '')}${renditionPlaybackPath(route.videoId, route.revision, rendition.rendition)}`,
    picturesOf: (route) => {
      const base = stage.stack.playbackBaseUrl.replace(/\/$/, '');
      return {
        ...picturesOf(
          route,
          (_key, picture) => `${base}${picture === 'poster' ? posterPath(route.videoId) : storyboardPath(route.videoId, route.revision)}`,
        ),
        // A caption's key is its path under the playback base (`v/<id>/<revision>/subtitles-<set>/<n>.m3u8`).
        ...captionsOf(route, (key) => `${base}/${key}`),
      };
    },
    linksOf: (videoId) => stageLinks(stage.stack, videoId),
    convert: (file, options, report) => {
      if (report.captions?.length)
        throw new CliError(
          `--captions with --stage: upload them beside the video in the input bucket (${basename(report.captions[0]!)} beside it as <video>.<language>.srt) before the video`,
        );
      return convertRemote(file, stage, {
        options,
        onEvent: report.onEvent,
        onStart: (name, how) => report.note(`  ${STARTED[how]} execution ${name}`),
        ...(report.signal && { signal: report.signal }),
      });
    },
    playHint: (result) => `share     ${stageLinks(stage.stack, result.videoId).watch}  (its page plays in every browser)`,
    history: (id) => remoteHistory(stage, id),
    failedUploads: () => {
      const url = stage.stack.failedUploadsQueueUrl;
      if (!url) {
        throw new CliError(
          `stack ${stage.stack.stackName} has no FailedUploadsQueueUrl output: deploy this version with npx serverless deploy --stage ${target.stage}`,
        );
      }
      const scheme = { videoIdSecret: stageVideoIdSecret(stage.stack), functionPrefix: stage.stack.functionPrefix };
      return {
        queue: stage.failedUploads(url),
        start: (event) => startConversion(parseS3Event(event), { executions: stage.executions }, scheme),
      };
    },
    async running() {
      const revisions = (await stage.executions.running()).flatMap((name) => {
        const parsed = parseExecutionName(name);
        return parsed ? [`${parsed.videoId}/${parsed.revision}`] : [];
      });
      return { revisions: new Set(revisions), sources: new Set<string>() };
    },
  };
}
