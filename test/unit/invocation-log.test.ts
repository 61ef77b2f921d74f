// What a deployed function's log line says about an invocation (src/composition/invocation-log.ts).
import { errorFields, invocationFields, stateOf, statusOf } from '../../src/composition/invocation-log';
import { NotMedia } from '../../src/core/errors';

describe("an invocation's log line", () => {
  it('names the state, execution, video and revision of a Task, from its event or, for ValidateInput, its result', () => {
    expect(stateOf('packageBatch')).toBe('PackageBatch');
    const job = { videoId: 'clip-1a2b3c', revision: 'abcd1234', execution: 'clip-1a2b3c-9f8e7d6c' };
    expect(invocationFields('writePlaylist', { job, offsetsKey: 'k' })).toEqual({ state: 'WritePlaylist', ...job });
    expect(invocationFields('encodeChunk', { videoId: job.videoId, revision: job.revision, execution: job.execution, chunk: 3 })).toEqual({
      state: 'EncodeChunk',
      ...job,
      chunk: 3,
    });
    // CleanUp's event is the failed run's state and the execution's name.
    expect(invocationFields('cleanUp', { input: { job, error: { Error: 'NotMedia' } }, execution: job.execution })).toEqual({
      state: 'CleanUp',
      ...job,
    });
    // ValidateInput's event is the execution's input and its name; the video id is in what it returns.
    expect(invocationFields('validateInput', { input: { key: 'clip.mp4' }, execution: job.execution }, job)).toEqual({
      state: 'ValidateInput',
      ...job,
    });
  });

  it('names the route and status of a playback request, and what became of each upload for start-conversion', () => {
    const event = { rawPath: '/v/clip-1a2b3c/index.m3u8', requestContext: { http: { method: 'GET' } } };
    expect(invocationFields('serveSegment', event)).toEqual({ route: 'GET /v/clip-1a2b3c/index.m3u8' });
    expect(statusOf({ statusCode: 404, body: '' })).toBe(404);
    expect(statusOf({ status: 206, headers: {}, body: '' })).toBe(206);
    expect(statusOf([{ key: 'x' }])).toBeUndefined();
    const upload = { Records: [{ s3: { object: { key: 'My+clip.mp4' } } }] };
    expect(invocationFields('startConversion', upload, [{ key: 'My clip.mp4', result: 'started', executionName: 'my-clip-1-2' }])).toEqual({
      keys: ['My+clip.mp4'],
      uploads: ['started "My clip.mp4" as my-clip-1-2'],
    });
  });

  it("gives an error's name and cause, and what caused it", () => {
    expect(errorFields(new NotMedia('"x.mp4" is not MP4'))).toEqual({ name: 'NotMedia', cause: '"x.mp4" is not MP4' });
    const wrapped = new Error('could not store', { cause: Object.assign(new Error('reset'), { name: 'TransientNetworkError' }) });
    expect(errorFields(wrapped)).toEqual({ name: 'Error', cause: 'could not store', causedBy: 'TransientNetworkError: reset' });
  });
});
