import { DescribeExecutionCommand, ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { StepFunctionsExecutions } from '../../src/adapters/aws/executions';
import { decodeS3Key, parseS3Event, startConversion } from '../../src/steps/start-conversion';
import { videoIdFor } from '../../src/core/naming';

const sfnMock = mockClient(SFNClient);
const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:lambda-hls-dev-convert-video';
const ports = () => ({ executions: new StepFunctionsExecutions(new SFNClient({ region: 'us-east-1' }), ARN) });
/** The created objects of an S3 notification for one upload, as start-conversion's parser reads them. */
const event = (key: string, extra: Record<string, string> = {}) =>
  parseS3Event({ Records: [{ s3: { object: { key, eTag: 'abc123', ...extra } } }] });

beforeEach(() => sfnMock.reset());

describe('S3 event keys', () => {
  it.each([
    ['My+holiday+clip.MP4', 'My holiday clip.MP4'],
    ['caf%C3%A9+%26+more.mp3', 'café & more.mp3'],
    ['a%2Bb.mp4', 'a+b.mp4'],
    ['folder/sub+dir/x%25y.mp4', 'folder/sub dir/x%y.mp4'],
  ])('decodes %s as %s', (raw, decoded) => {
    expect(decodeS3Key(raw)).toBe(decoded);
  });
});

describe('start-conversion', () => {
  it('starts one execution named after the video id and the upload version', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn:x' });
    const [outcome] = await startConversion(event('lecture+1.MP4'), ports());
    const call = sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(call.stateMachineArn).toBe(ARN);
    expect(call.name).toBe(outcome!.executionName);
    expect(call.name).toMatch(new RegExp(`^${videoIdFor('lecture 1.MP4')}-[0-9a-f]{8}$`));
    expect(JSON.parse(call.input!)).toMatchObject({
      source: { key: 'lecture 1.MP4' },
      options: { segmentSeconds: 6, profile: 'source', ladder: 'auto' },
    });
  });

  it('gives a redelivered event the same name, and treats the existing execution as success', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .resolvesOnce({})
      .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    sfnMock.on(DescribeExecutionCommand).resolves({ name: 'x', status: 'RUNNING', startDate: new Date(), input: '{}' });
    const first = await startConversion(event('a.mp4'), ports());
    const again = await startConversion(event('a.mp4'), ports());
    expect(again[0]).toMatchObject({ result: 'exists', executionName: first[0]!.executionName });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(2);
  });

  it('starts the next attempt after a failed one for an event without a sequencer (not from S3 itself)', async () => {
    const exists = new ExecutionAlreadyExists({ message: 'exists', $metadata: {} });
    sfnMock.on(StartExecutionCommand).rejectsOnce(exists).rejectsOnce(exists).resolves({});
    sfnMock
      .on(DescribeExecutionCommand)
      .resolvesOnce({ name: 'x', status: 'FAILED', startDate: new Date(), input: '{}' })
      .resolvesOnce({ name: 'x', status: 'TIMED_OUT', startDate: new Date(), input: '{}' });
    const [outcome] = await startConversion(event('a.mp4'), ports());
    const names = sfnMock.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(names).toEqual([names[0], `${names[0]}-2`, `${names[0]}-3`]);
    expect(outcome).toMatchObject({ result: 'started', executionName: `${names[0]}-3` });
  });

  it("starts nothing for an S3 event delivered again after its run failed: the upload's one execution exists", async () => {
    sfnMock.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    sfnMock.on(DescribeExecutionCommand).resolves({ name: 'x', status: 'FAILED', startDate: new Date(), input: '{}' });
    const [outcome] = await startConversion(event('a.mp4', { sequencer: '0055AED6DCD90281E5' }), ports());
    expect(outcome).toMatchObject({ result: 'exists' });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(1); // no "-2"
  });

  it('converts each upload of the same bytes anew (after a delete, after another upload): the sequencer names the upload', async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    const [first] = await startConversion(event('a.mp4', { sequencer: '0055AED6DCD90281E5' }), ports());
    const [again] = await startConversion(event('a.mp4', { sequencer: '0055AED6DCD90281F0' }), ports());
    expect(first!.executionName).not.toBe(again!.executionName);
    const inputs = sfnMock.commandCalls(StartExecutionCommand).map((c) => JSON.parse(c.args[0].input.input!) as { upload?: unknown });
    expect(inputs.map((i) => i.upload)).toEqual([{ sequencer: '0055AED6DCD90281E5' }, { sequencer: '0055AED6DCD90281F0' }]);
  });

  it('gives a new version of the same key a new execution', async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    const [a] = await startConversion(event('a.mp4', { versionId: 'v1' }), ports());
    const [b] = await startConversion(event('a.mp4', { versionId: 'v2' }), ports());
    expect(a!.executionName).not.toBe(b!.executionName);
  });

  it('ignores other extensions without starting anything', async () => {
    const outcomes = await startConversion(event('notes.txt'), ports());
    expect(outcomes).toEqual([{ key: 'notes.txt', result: 'ignored', reason: 'extension .txt is not .mp4 or .mp3' }]);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('starts nothing for a caption file, and says it is read when the video beside it is converted', async () => {
    const outcomes = await startConversion(event('talks/lecture.EN.SRT'), ports());
    expect(outcomes).toEqual([
      {
        key: 'talks/lecture.EN.SRT',
        result: 'ignored',
        reason:
          'a caption file: it is added when the video beside it is converted (upload it first; one uploaded after its video is not added yet)',
      },
    ]);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('starts nothing for a notification that is not an upload (a delete, a restore), and an upload as before', async () => {
    sfnMock.on(StartExecutionCommand).resolves({});
    const records = (eventName: string) => parseS3Event({ Records: [{ eventName, s3: { object: { key: 'a.mp4', eTag: 'abc123' } } }] });
    expect(await startConversion(records('ObjectRemoved:Delete'), ports())).toEqual([
      { key: 'a.mp4', result: 'ignored', reason: 'ObjectRemoved:Delete is not an upload' },
    ]);
    expect(await startConversion(records('ObjectRestore:Completed'), ports())).toMatchObject([{ result: 'ignored' }]);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(await startConversion(records('ObjectCreated:CompleteMultipartUpload'), ports())).toMatchObject([{ result: 'started' }]);
  });
});
