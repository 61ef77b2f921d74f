import { cleanUp, parseCleanUpInput } from '../../../src/steps/clean-up';
import { registerRoute } from '../../../src/steps/register-route';
import { keys } from '../../../src/core/naming';
import { convertInMemory, segmentsOf, stepSettings, uploadedClip } from '../../support/steps';

const settings = stepSettings();

/** The state at a failure after everything was made but the route: what CleanUp gets. */
async function failedLate(revision = 'abcd1234', clip?: Awaited<ReturnType<typeof uploadedClip>>) {
  const source = clip ?? (await uploadedClip({ segments: segmentsOf(1000, 1000) }));
  const converted = await convertInMemory({ ...source, request: { ...source.request, revision } }, settings);
  const state = { ...source.request, job: converted.job, error: { Error: 'PlaylistInvalid', Cause: 'line 7:\n  bad range' } };
  return { ...source, ...converted, state };
}

describe('CleanUp', () => {
  it('deletes every function, playlist and work file the failed run made, and hands on the error in one line', async () => {
    const { ports, job, state } = await failedLate();
    const result = await cleanUp(parseCleanUpInput(state), ports, settings);
    expect(result).toEqual({
      Error: 'PlaylistInvalid',
      Cause: 'line 7: bad range',
      deleted: { functions: 1, objects: expect.any(Number) },
    });
    expect(await ports.code.list('')).toEqual([]);
    expect(await ports.objects.list('work', keys.workPrefix(job.videoId, job.revision))).toEqual([]);
    expect(await ports.objects.list('output', '')).toEqual([]);
  });

  it("reads the failed run's state from the state machine's Parameters ({input, execution}) as from the state itself", async () => {
    const { state } = await failedLate();
    expect(parseCleanUpInput({ input: state, execution: 'clip-1a2b3c-0f1e2d3c' })).toEqual(parseCleanUpInput(state));
    expect(parseCleanUpInput({ input: state, execution: 'x' })).toMatchObject({
      videoId: state.job.videoId,
      error: { Error: 'PlaylistInvalid' },
    });
  });

  it('never deletes the revision being served when a repeat of it fails', async () => {
    const served = await failedLate();
    await registerRoute({ job: served.job, playlist: served.playlist, offsetsKey: served.offsets.offsetsKey }, served.ports, settings);
    // A repeat of the served revision is refused by ValidateInput; its CleanUp gets the input and the error.
    await expect(failedLate('abcd1234', served)).rejects.toMatchObject({ name: 'RevisionPublished' });
    const repeat = { ...served.request, revision: 'abcd1234', error: { Error: 'RevisionPublished', Cause: 'revision abcd1234 …' } };
    const result = await cleanUp(parseCleanUpInput(repeat), served.ports, settings);
    expect(result.deleted.functions).toBe(0);
    expect((await served.ports.code.list('')).map((f) => f.name)).toEqual([`lhls-${served.job.videoId}-abcd1234-0`]);
    expect(await served.ports.objects.head('output', served.playlist.playlistKey)).toBeDefined();
    expect(await served.ports.objects.list('work', keys.workPrefix(served.job.videoId, 'abcd1234'))).toEqual([]);
  });

  it('deletes nothing and passes the error on when the input never named a video', async () => {
    const { ports } = await uploadedClip();
    const remove = jest.spyOn(ports.objects, 'delete');
    expect(
      await cleanUp(
        parseCleanUpInput({ source: 'x', error: { Error: 'InvalidRequest', Cause: 'source must be an object' } }),
        ports,
        settings,
      ),
    ).toEqual({
      Error: 'InvalidRequest',
      Cause: 'source must be an object',
      deleted: { functions: 0, objects: 0 },
    });
    expect(remove).not.toHaveBeenCalled();
  });

  it('reads any state, even one with no error at all', () => {
    expect(parseCleanUpInput(null)).toEqual({ error: { Error: 'UnknownError', Cause: 'no cause recorded' } });
    expect(parseCleanUpInput({ job: { videoId: '../etc' }, revision: 'x' })).toEqual({
      error: { Error: 'UnknownError', Cause: 'no cause recorded' },
    });
  });
});
