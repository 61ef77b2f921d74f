// Step Functions and CloudFormation adapters and the remote CLI flow, with aws-sdk-client-mock:
// the exact commands sent, history pagination, and AWS history events read like local ones.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { StepFunctionsExecutions } from '../../src/adapters/aws/executions';
import { storedEventsFromHistory } from '../../src/adapters/aws/history';
import { readStackOutputs, StackNotDeployed } from '../../src/adapters/aws/stack';
import { awsHistoryEventCount, executionStats, failedState, summarizeStates } from '../../src/core/history';
import { conversionFor } from '../../src/core/conversion';
import { DEFAULT_OPTIONS } from '../../src/core/model';
import { videoIdFor } from '../../src/core/naming';
import { conversionProgress, progressReporter } from '../../cli/progress';
import { convertRemote } from '../../cli/remote';
import { connectStage } from '../../src/composition/backends/aws';
import { CliError } from '../../cli/errors';
import { removeDir, tempDir } from '../support/fixtures';

const sfnMock = mockClient(SFNClient);
const cfnMock = mockClient(CloudFormationClient);
const s3Mock = mockClient(S3Client);
const MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:lambda-hls-dev-convert-video';
const EXECUTION = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:lambda-hls-dev-convert-video:${name}`;
const executions = () => new StepFunctionsExecutions(new SFNClient({ region: 'us-east-1' }), MACHINE, { sleep: async () => {} });

beforeEach(() => {
  sfnMock.reset();
  cfnMock.reset();
  s3Mock.reset();
});

const t0 = Date.parse('2026-11-20T12:00:00Z');
/**
 * A history as AWS writes it: ids in order, each event pointing at the one it follows, and a
 * LambdaFunctionStarted after every LambdaFunctionScheduled (listed here without them).
 */
function history(...events: [type: string, previous: number, details?: Partial<HistoryEvent>][]): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  const idOf = new Map<number, number>();
  events.forEach(([type, previous, details], i) => {
    const id = out.length + 1;
    idOf.set(i + 1, id);
    const timestamp = new Date(t0 + i * 1000);
    out.push({ id, previousEventId: idOf.get(previous) ?? 0, type: type as HistoryEvent['type'], timestamp, ...details });
    if (type === 'LambdaFunctionScheduled') {
      // What followed the scheduling follows the start.
      out.push({ id: id + 1, previousEventId: id, type: 'LambdaFunctionStarted', timestamp });
      idOf.set(i + 1, id + 1);
    }
  });
  return out;
}
const entered = (name: string) => ({ stateEnteredEventDetails: { name } });
const exited = (name: string, output?: unknown) => ({
  stateExitedEventDetails: { name, ...(output !== undefined && { output: JSON.stringify(output) }) },
});
const failed = (error: string, cause: string) => ({ lambdaFunctionFailedEventDetails: { error, cause } });
const iteration = (kind: 'Started' | 'Succeeded' | 'Failed', index: number) => ({
  [`mapIteration${kind}EventDetails`]: { name: 'PackageSegments', index },
});

// ValidateInput ok; SegmentMedia throttled once, retried, ok (2 segments); PackageSegments:
// iteration 0 ok, iteration 1 fails with SegmentTooLarge; caught → CleanUp → Failed.
const FAILED_RUN = history(
  ['ExecutionStarted', 0], //                                                  1
  ['TaskStateEntered', 1, entered('ValidateInput')], //                       2
  ['LambdaFunctionScheduled', 2], //                                           3
  ['LambdaFunctionSucceeded', 3], //                                           4
  ['TaskStateExited', 4, exited('ValidateInput')], //                          5
  ['TaskStateEntered', 5, entered('SegmentMedia')], //                         6
  ['LambdaFunctionScheduled', 6], //                                           7
  ['LambdaFunctionFailed', 7, failed('TooManyRequestsException', 'Rate exceeded')], // 8
  ['LambdaFunctionScheduled', 8], //                                           9
  ['LambdaFunctionSucceeded', 9], //                                           10
  ['TaskStateExited', 10, exited('SegmentMedia', { segments: { segmentCount: 2 } })], // 11
  ['MapStateEntered', 11, entered('PackageSegments')], //                      12
  ['MapStateStarted', 12], //                                                  13
  ['MapIterationStarted', 13, iteration('Started', 0)], //                     14
  ['MapIterationStarted', 13, iteration('Started', 1)], //                     15
  ['TaskStateEntered', 14, entered('PackageBatch')], //                      16
  ['TaskStateEntered', 15, entered('PackageBatch')], //                      17
  ['LambdaFunctionScheduled', 16], //                                          18
  ['LambdaFunctionScheduled', 17], //                                          19
  ['LambdaFunctionSucceeded', 18], //                                          20
  ['TaskStateExited', 20, exited('PackageBatch')], //                        21
  ['MapIterationSucceeded', 21, iteration('Succeeded', 0)], //                 22
  [
    'LambdaFunctionFailed',
    19,
    failed('SegmentTooLarge', '{"errorType":"SegmentTooLarge","errorMessage":"segment 1 is 300 MB; use shorter segments"}'),
  ], // 23
  ['MapIterationFailed', 23, iteration('Failed', 1)], //                       24
  ['MapStateFailed', 24], //                                                   25
  ['MapStateExited', 25, exited('PackageSegments')], //                        26
  ['TaskStateEntered', 26, entered('CleanUp')], //                             27
  ['LambdaFunctionScheduled', 27], //                                          28
  ['LambdaFunctionSucceeded', 28], //                                          29
  ['TaskStateExited', 29, exited('CleanUp')], //                               30
  ['FailStateEntered', 30, entered('Failed')], //                              31
  [
    'ExecutionFailed',
    31,
    { executionFailedEventDetails: { error: 'SegmentTooLarge', cause: 'segment 1 is 300 MB; use shorter segments' } },
  ],
);

describe('AWS execution history read like a local one', () => {
  it('names the failed state, its error and a one-line cause, with retries and Map progress', () => {
    const events = storedEventsFromHistory(FAILED_RUN, conversionProgress());
    expect(failedState(events)).toEqual({
      state: 'PackageSegments',
      error: 'SegmentTooLarge',
      cause: 'segment 1 is 300 MB; use shorter segments',
    });
    const states = summarizeStates(events).map(({ state, status, retries, iterations, error }) => ({
      state,
      status,
      retries,
      iterations,
      error,
    }));
    expect(states).toEqual([
      { state: 'ValidateInput', status: 'SUCCEEDED', retries: 0, iterations: undefined, error: undefined },
      { state: 'SegmentMedia', status: 'SUCCEEDED', retries: 1, iterations: undefined, error: undefined },
      {
        state: 'PackageSegments',
        status: 'FAILED',
        retries: 0,
        iterations: { started: 2, succeeded: 1, failed: 1 },
        error: 'SegmentTooLarge',
      },
      { state: 'CleanUp', status: 'SUCCEEDED', retries: 0, iterations: undefined, error: undefined },
      { state: 'Failed', status: 'RUNNING', retries: 0, iterations: undefined, error: undefined },
    ]);
  });

  it('counts the events of a local run as AWS does: the same number as the AWS history itself', () => {
    // Both histories, translated, give back their own length: the rules awsHistoryEventCount
    // applies to the local engine's events are the event types AWS writes.
    expect(awsHistoryEventCount(storedEventsFromHistory(FAILED_RUN, conversionProgress()))).toBe(FAILED_RUN.length);
    const succeeded = history(
      ['ExecutionStarted', 0],
      ['TaskStateEntered', 1, entered('SegmentMedia')],
      ['LambdaFunctionScheduled', 2],
      ['LambdaFunctionSucceeded', 3],
      ['TaskStateExited', 4, exited('SegmentMedia', { segments: { segmentCount: 30 } })],
      ['MapStateEntered', 5, entered('PackageSegments')],
      ['MapStateStarted', 6],
      ['MapIterationStarted', 7, iteration('Started', 0)],
      ['TaskStateEntered', 8, entered('PackageBatch')],
      ['LambdaFunctionScheduled', 9],
      ['LambdaFunctionFailed', 10, failed('TooManyRequestsException', 'Rate exceeded')],
      ['LambdaFunctionScheduled', 11],
      ['LambdaFunctionSucceeded', 12],
      ['TaskStateExited', 13, exited('PackageBatch', { batch: 0, packages: 25, retries: 2 })],
      ['MapIterationSucceeded', 14, iteration('Succeeded', 0)],
      ['MapIterationStarted', 7, iteration('Started', 1)],
      ['TaskStateEntered', 16, entered('PackageBatch')],
      ['LambdaFunctionScheduled', 17],
      ['LambdaFunctionSucceeded', 18],
      ['TaskStateExited', 19, exited('PackageBatch', { batch: 1, packages: 5, retries: 0 })],
      ['MapIterationSucceeded', 20, iteration('Succeeded', 1)],
      ['MapStateSucceeded', 21],
      ['MapStateExited', 22, exited('PackageSegments', { big: 'x'.repeat(5000) })],
      ['ExecutionSucceeded', 23],
    );
    const events = storedEventsFromHistory(succeeded, conversionProgress());
    expect(awsHistoryEventCount(events)).toBe(succeeded.length);
    expect(executionStats(events, succeeded.length)).toEqual({
      segments: 30,
      packages: 30,
      maxStatePayloadBytes: JSON.stringify({ big: 'x'.repeat(5000) }).length,
      historyEvents: succeeded.length,
    });
    expect(summarizeStates(events).find((s) => s.state === 'PackageSegments')).toMatchObject({
      status: 'SUCCEEDED',
      retries: 1,
      callRetries: 2,
      packages: 30,
      iterations: { started: 2, succeeded: 2, failed: 0 },
    });
  });

  it('gives the inner Map states their iteration index, and nothing outside the Map one', () => {
    const events = storedEventsFromHistory(FAILED_RUN, conversionProgress());
    expect(events.filter((e) => e.state === 'PackageBatch').map((e) => [e.type, e.index])).toEqual([
      ['StateEntered', 0],
      ['StateEntered', 1],
      ['StateExited', 0],
      ['StateFailed', 1],
    ]);
    expect(events.filter((e) => e.state === 'CleanUp').every((e) => e.index === undefined)).toBe(true);
  });

  it('shows the same progress lines as a local run, retries and counts included', () => {
    let text = '';
    const report = progressReporter({
      write: (s) => {
        text += s;
      },
    });
    for (const event of storedEventsFromHistory(FAILED_RUN, conversionProgress())) report(event);
    expect(text).toContain('retry   SegmentMedia     after TooManyRequestsException: Rate exceeded');
    expect(text).toMatch(/ok {6}SegmentMedia +5\.0s {2}2 segments/);
    expect(text).toContain('FAILED  PackageSegments  SegmentTooLarge: segment 1 is 300 MB; use shorter segments');
  });

  it('translates a history fed in pieces exactly as one fed whole', async () => {
    const { historyTranslator } = await import('../../src/adapters/aws/history');
    const translate = historyTranslator(conversionProgress());
    const pieces = [FAILED_RUN.slice(0, 9), FAILED_RUN.slice(9, 20), FAILED_RUN.slice(20)].flatMap((p) => translate(p));
    expect(pieces).toEqual(storedEventsFromHistory(FAILED_RUN, conversionProgress()));
  });
});

describe('StepFunctionsExecutions', () => {
  it('starts with the exact name and input, and treats ExecutionAlreadyExists as under way', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .resolvesOnce({})
      .rejectsOnce(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    expect(await executions().start('clip-abc123-0a1b2c3d', { source: { key: 'clip.mp4' } })).toBe('started');
    expect(await executions().start('clip-abc123-0a1b2c3d', { source: { key: 'clip.mp4' } })).toBe('exists');
    expect(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({
      stateMachineArn: MACHINE,
      name: 'clip-abc123-0a1b2c3d',
      input: '{"source":{"key":"clip.mp4"}}',
    });
  });

  it('describes an execution by its ARN, and returns nothing for an unknown one', async () => {
    sfnMock.on(DescribeExecutionCommand, { executionArn: EXECUTION('a-123456-0a1b2c3d') }).resolves({
      name: 'a-123456-0a1b2c3d',
      status: 'FAILED',
      startDate: new Date(t0),
      stopDate: new Date(t0 + 5000),
      input: '{"source":{"key":"a.mp4"}}',
      error: 'NotMedia',
      cause: '{"errorMessage":"not a media file"}',
    });
    sfnMock
      .on(DescribeExecutionCommand, { executionArn: EXECUTION('nope') })
      .rejects(new ExecutionDoesNotExist({ message: 'no', $metadata: {} }));
    expect(await executions().describe('a-123456-0a1b2c3d')).toEqual({
      name: 'a-123456-0a1b2c3d',
      status: 'FAILED',
      startedAt: '2026-11-20T12:00:00.000Z',
      stoppedAt: '2026-11-20T12:00:05.000Z',
      input: { source: { key: 'a.mp4' } },
      error: 'NotMedia',
      cause: 'not a media file',
    });
    expect(await executions().describe('nope')).toBeUndefined();
  });

  it('finds the newest execution of a video over pages, not one of a video whose id extends it', async () => {
    sfnMock
      .on(ListExecutionsCommand, { stateMachineArn: MACHINE, nextToken: undefined })
      .resolves({ executions: [{ name: 'a-123456-bbbbbb-0a1b2c3d' } as never], nextToken: 'page-2' })
      .on(ListExecutionsCommand, { stateMachineArn: MACHINE, nextToken: 'page-2' })
      .resolves({ executions: [{ name: 'a-123456-9f9f9f9f' } as never, { name: 'a-123456-00000000' } as never] });
    expect(await executions().latestFor('a-123456')).toBe('a-123456-9f9f9f9f');
    expect(sfnMock.commandCalls(ListExecutionsCommand)).toHaveLength(2);
    expect(sfnMock.commandCalls(ListExecutionsCommand)[0]!.args[0].input).toMatchObject({ stateMachineArn: MACHINE, maxResults: 1000 });
  });

  it('lists the running executions over pages, for gc', async () => {
    sfnMock
      .on(ListExecutionsCommand, { stateMachineArn: MACHINE, statusFilter: 'RUNNING', nextToken: undefined })
      .resolves({ executions: [{ name: 'a-123456-0a1b2c3d' } as never], nextToken: 'p2' })
      .on(ListExecutionsCommand, { stateMachineArn: MACHINE, statusFilter: 'RUNNING', nextToken: 'p2' })
      .resolves({ executions: [{ name: 'b-654321-deadbeef' } as never] });
    expect(await executions().running()).toEqual(['a-123456-0a1b2c3d', 'b-654321-deadbeef']);
    expect(sfnMock.commandCalls(ListExecutionsCommand)[0]!.args[0].input).toMatchObject({ statusFilter: 'RUNNING' });
  });

  it('reads the whole history over pages, oldest first', async () => {
    const all = FAILED_RUN;
    const newestFirst = [...all].reverse();
    sfnMock
      .on(GetExecutionHistoryCommand, { nextToken: undefined })
      .resolves({ events: newestFirst.slice(0, 20), nextToken: 't2' })
      .on(GetExecutionHistoryCommand, { nextToken: 't2' })
      .resolves({ events: newestFirst.slice(20) });
    expect(await executions().history('a-123456-0a1b2c3d')).toEqual(all);
    const calls = sfnMock.commandCalls(GetExecutionHistoryCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.args[0].input).toMatchObject({
      executionArn: EXECUTION('a-123456-0a1b2c3d'),
      includeExecutionData: true,
      reverseOrder: true,
      maxResults: 1000,
    });
    expect(calls[1]!.args[0].input).toMatchObject({ nextToken: 't2' });
  });

  it('reads only the events after the last one seen, stopping at the first page that reaches it', async () => {
    const newestFirst = [...FAILED_RUN].reverse();
    sfnMock
      .on(GetExecutionHistoryCommand, { nextToken: undefined })
      .resolves({ events: newestFirst.slice(0, 20), nextToken: 't2' })
      .on(GetExecutionHistoryCommand, { nextToken: 't2' })
      .resolves({ events: newestFirst.slice(20) });
    const last = FAILED_RUN.length;
    const fresh = await executions().history('x-123456-0a1b2c3d', last - 4);
    expect(fresh.map((e) => e.id)).toEqual([last - 3, last - 2, last - 1, last]);
    expect(sfnMock.commandCalls(GetExecutionHistoryCommand)).toHaveLength(1);
  });
});

describe('stack outputs', () => {
  const outputs = {
    InputBucketName: 'in',
    WorkBucketName: 'work',
    OutputBucketName: 'out',
    StateMachineArn: MACHINE,
    PlaybackBaseUrl: 'https://abc.execute-api.us-east-1.amazonaws.com',
    DeliveryBaseUrl: 'https://xyz.lambda-url.us-east-1.on.aws/',
    SegmentFunctionPrefix: 'lambda-hls-dev-seg-',
  };
  const describeStacks = (o: Record<string, string>) => ({
    Stacks: [
      {
        StackName: 'lambda-hls-dev',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: Object.entries(o).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });

  it("reads every output the CLI needs from the stage's stack", async () => {
    cfnMock.on(DescribeStacksCommand, { StackName: 'lambda-hls-dev' }).resolves(describeStacks(outputs) as never);
    expect(await readStackOutputs(new CloudFormationClient({}), 'dev', 'us-east-1')).toEqual({
      stackName: 'lambda-hls-dev',
      inputBucket: 'in',
      workBucket: 'work',
      outputBucket: 'out',
      stateMachineArn: MACHINE,
      playbackBaseUrl: 'https://abc.execute-api.us-east-1.amazonaws.com',
      deliveryBaseUrl: 'https://xyz.lambda-url.us-east-1.on.aws/',
      functionPrefix: 'lambda-hls-dev-seg-',
    });
  });

  it('says how to deploy when the stack is not there, and what is missing from an old one', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id lambda-hls-prod does not exist'), { name: 'ValidationError' }));
    await expect(readStackOutputs(new CloudFormationClient({}), 'prod', 'eu-west-1')).rejects.toThrow(
      new StackNotDeployed('no stack lambda-hls-prod in eu-west-1: deploy it with npx serverless deploy --stage prod --region eu-west-1'),
    );
    cfnMock.reset();
    // A stack deployed before the delivery route: the CLI asks for this version.
    const { DeliveryBaseUrl: _, ...old } = outputs;
    cfnMock.on(DescribeStacksCommand).resolves(describeStacks(old) as never);
    await expect(readStackOutputs(new CloudFormationClient({}), 'dev', 'us-east-1')).rejects.toThrow(/has no DeliveryBaseUrl output/);
  });

  describe('convert --stage', () => {
    let dir: string;
    beforeEach(() => {
      dir = tempDir('lambda-hls-remote-');
      cfnMock.on(DescribeStacksCommand).resolves(describeStacks(outputs) as never);
    });
    afterEach(() => removeDir(dir));

    const succeeded = history(
      ['ExecutionStarted', 0],
      ['TaskStateEntered', 1, entered('ValidateInput')],
      ['LambdaFunctionScheduled', 2],
      ['LambdaFunctionSucceeded', 3],
      ['TaskStateExited', 4, exited('ValidateInput')],
      ['ExecutionSucceeded', 5],
    );

    it('uploads the file under its name and follows the execution the S3 trigger starts for this upload, not an earlier one', async () => {
      const file = join(dir, 'Lecture 1.MP4');
      writeFileSync(file, 'not really a video; the pipeline decides');
      s3Mock.on(PutObjectCommand).resolves({ ETag: '"5d41402abc4b2a76b9719d911017c592"' });
      // S3's LastModified is in whole seconds.
      const written = new Date(Math.floor(t0 / 1000) * 1000);
      s3Mock.on(HeadObjectCommand).resolves({ ContentLength: 41, ETag: '"5d41402abc4b2a76b9719d911017c592"', LastModified: written });
      const videoId = videoIdFor('Lecture 1.MP4');
      const earlier = `${videoId}-0badcafe`; // the same key's previous upload, which the trigger converted before
      const executionName = `${videoId}-1234abcd`; // named after this upload's sequencer, which only the event carries
      const arn = (name: string) => `${MACHINE.replace(':stateMachine:', ':execution:')}:${name}`;
      const input = JSON.stringify({ source: { key: 'Lecture 1.MP4' } });
      sfnMock
        .on(ListExecutionsCommand)
        .resolvesOnce({
          executions: [
            {
              name: earlier,
              executionArn: arn(earlier),
              stateMachineArn: MACHINE,
              status: 'SUCCEEDED',
              startDate: new Date(t0 - 86_400_000),
            },
          ],
        })
        .resolves({
          executions: [
            { name: executionName, executionArn: arn(executionName), stateMachineArn: MACHINE, status: 'RUNNING', startDate: new Date(t0) },
          ],
        });
      sfnMock
        .on(DescribeExecutionCommand, { executionArn: arn(earlier) })
        .resolves({ name: earlier, status: 'SUCCEEDED', startDate: new Date(t0 - 86_400_000), input });
      sfnMock
        .on(DescribeExecutionCommand, { executionArn: arn(executionName) })
        .resolvesOnce({ name: executionName, status: 'RUNNING', startDate: new Date(t0), input })
        .resolvesOnce({ name: executionName, status: 'RUNNING', startDate: new Date(t0), input })
        .resolves({
          name: executionName,
          status: 'SUCCEEDED',
          startDate: new Date(t0),
          stopDate: new Date(t0 + 6000),
          input,
          output: '{"segmentCount":3}',
        });
      sfnMock
        .on(GetExecutionHistoryCommand)
        .resolvesOnce({ events: [...succeeded.slice(0, 3)].reverse() })
        .resolves({ events: [...succeeded].reverse() });

      const ports = await connectStage({ stage: 'dev', region: 'us-east-1' });
      const seen: string[] = [];
      const started: string[] = [];
      const result = await convertRemote(file, ports, {
        options: { segmentSeconds: 6, profile: 'source', ladder: 'auto' },
        pollMs: 1,
        onEvent: (e) => seen.push(`${e.type}:${e.state ?? ''}`),
        onStart: (name, how) => started.push(`${how} ${name}`),
      });
      expect(s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({ Bucket: 'in', Key: 'Lecture 1.MP4' });
      expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0); // the trigger starts it
      expect(started).toEqual([`uploaded ${executionName}`]);
      expect(result).toEqual({
        status: 'SUCCEEDED',
        videoId,
        executionName,
        reused: false,
        segments: 3,
        playlist: `https://abc.execute-api.us-east-1.amazonaws.com/v/${result.videoId}/index.m3u8`,
        // The history's length as AWS recorded it: its last event id.
        stats: expect.objectContaining({ historyEvents: succeeded.length }),
        warnings: [],
      });
      // Each event once, although the history was read twice.
      expect(seen).toEqual(['ExecutionStarted:', 'StateEntered:ValidateInput', 'StateExited:ValidateInput', 'ExecutionSucceeded:']);
    });

    it('says so when no execution starts for the upload (no trigger deployed)', async () => {
      const file = join(dir, 'Lecture 1.MP4');
      writeFileSync(file, 'same bytes as last time');
      s3Mock.on(PutObjectCommand).resolves({ ETag: '"abc"' });
      s3Mock.on(HeadObjectCommand).resolves({ ContentLength: 23, ETag: '"abc"', LastModified: new Date() });
      sfnMock.on(ListExecutionsCommand).resolves({ executions: [] });
      await expect(
        convertRemote(file, await connectStage({ stage: 'dev' }), { options: DEFAULT_OPTIONS, pollMs: 1, startTimeoutMs: 20 }),
      ).rejects.toThrow(/no execution started for Lecture 1\.MP4 within 0 s: is the input bucket's trigger deployed\?/);
    });

    it('never reports a conversion done that is not served: after a delete, converting the object again starts the next attempt', async () => {
      s3Mock.on(HeadObjectCommand, { Bucket: 'in', Key: 'talks/keynote.mp4' }).resolves({ ContentLength: 9, ETag: '"abc"' });
      s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} })); // its route was deleted
      const { executionName } = conversionFor('talks/keynote.mp4', 'abc', DEFAULT_OPTIONS);
      sfnMock
        .on(StartExecutionCommand)
        .rejectsOnce(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }))
        .resolves({});
      sfnMock.on(DescribeExecutionCommand).resolves({ name: executionName, status: 'SUCCEEDED', startDate: new Date(t0), input: '{}' });
      sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });
      const started: string[] = [];
      await convertRemote('s3://in/talks/keynote.mp4', await connectStage({ stage: 'dev' }), {
        options: DEFAULT_OPTIONS,
        pollMs: 1,
        onStart: (name, how) => started.push(`${how} ${name}`),
      });
      expect(sfnMock.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name)).toEqual([executionName, `${executionName}-2`]);
      expect(started).toEqual([`started ${executionName}-2`]);
    });

    it('starts an execution with the given options for an object already in the input bucket', async () => {
      s3Mock.on(HeadObjectCommand, { Bucket: 'in', Key: 'talks/keynote.mp4' }).resolves({ ContentLength: 9, ETag: '"abc"' });
      const options = { segmentSeconds: 4, profile: '360p' as const };
      const { executionName, input } = conversionFor('talks/keynote.mp4', 'abc', options);
      sfnMock.on(StartExecutionCommand).resolves({});
      sfnMock.on(DescribeExecutionCommand).resolves({
        name: executionName,
        status: 'FAILED',
        startDate: new Date(t0),
        input: '{}',
        error: 'NotMedia',
        cause: 'no streams',
      });
      sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });
      const ports = await connectStage({ stage: 'dev' });
      const result = await convertRemote('s3://in/talks/keynote.mp4', ports, { options, pollMs: 1 });
      expect(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({
        stateMachineArn: MACHINE,
        name: executionName,
        input: JSON.stringify(input),
      });
      expect(result).toMatchObject({ status: 'FAILED', playlist: null, error: { error: 'NotMedia', cause: 'no streams' } });
      await expect(convertRemote('s3://elsewhere/keynote.mp4', ports, { options, pollMs: 1 })).rejects.toThrow(
        new CliError('s3://elsewhere/keynote.mp4: only objects in the input bucket in can be converted; copy it there first'),
      );
    });

    it('refuses other options for an upload, since the trigger converts with the defaults', async () => {
      const file = join(dir, 'clip.mp4');
      writeFileSync(file, 'x');
      const ports = await connectStage({ stage: 'dev' });
      await expect(convertRemote(file, ports, { options: { segmentSeconds: 4, profile: 'source', ladder: 'source' } })).rejects.toThrow(
        /default options/,
      );
      expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    });
  });
});
