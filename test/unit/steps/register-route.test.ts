import { registerRoute } from '../../../src/steps/register-route';
import { keys } from '../../../src/core/naming';
import { readRoute } from '../../../src/registry/routes';
import { convertInMemory, segmentsOf, stepSettings, uploadedClip } from '../../support/steps';

const settings = stepSettings();

async function ready(revision = 'abcd1234', clip?: Awaited<ReturnType<typeof uploadedClip>>) {
  const source = clip ?? (await uploadedClip({ segments: segmentsOf(1000, 1000) }));
  const converted = await convertInMemory({ ...source, request: { ...source.request, revision } }, settings);
  const input = { job: converted.job, playlist: converted.playlist, offsetsKey: converted.offsets.offsetsKey };
  return { ...source, ...converted, input };
}

describe('RegisterRoute', () => {
  it("registers the route in one write, then removes this revision's work files but not its packages", async () => {
    const { ports, job, input } = await ready();
    const result = await registerRoute(input, ports, settings);
    expect(result).toMatchObject({
      videoId: job.videoId,
      revision: 'abcd1234',
      playbackPath: `/v/${job.videoId}/index.m3u8`,
      segmentCount: 2,
      packages: 1,
    });
    const route = await readRoute(ports.objects, job.videoId);
    expect(route).toMatchObject({
      revision: 'abcd1234',
      packages: [`lhls-${job.videoId}-abcd1234-0`],
      registeredAt: '2026-01-01T00:00:00.000Z',
    });
    expect(await ports.objects.list('work', keys.workPrefix(job.videoId, job.revision))).toEqual([]);
    expect(await ports.code.describe(route!.packages[0]!)).toBeDefined();
  });

  it('switches a video to a new revision, keeps the old one addressable for the grace period, then deletes it', async () => {
    const first = await ready('aaaa1111');
    await registerRoute(first.input, first.ports, settings);
    const second = await ready('bbbb2222', first);
    await registerRoute(second.input, first.ports, settings);
    const start = first.ports.clock();
    const until = new Date(start + settings.revisionGraceSeconds * 1000).toISOString();
    const route = await readRoute(first.ports.objects, first.job.videoId);
    expect(route).toMatchObject({
      revision: 'bbbb2222',
      addressing: 'revision',
      retired: [
        {
          revision: 'aaaa1111',
          packages: [`lhls-${first.job.videoId}-aaaa1111-0`],
          playlistKey: first.playlist.playlistKey,
          until,
          // Its playlist named its revision: no /v/<id>/<n>.ts ever addressed it.
          addressing: 'revision',
        },
      ],
    });
    const functions = async () => (await first.ports.code.list('')).map((f) => f.name).sort();
    expect(await functions()).toEqual([`lhls-${first.job.videoId}-aaaa1111-0`, `lhls-${first.job.videoId}-bbbb2222-0`]);
    expect(await first.ports.objects.head('output', first.playlist.playlistKey)).toBeDefined();
    // Once the grace is over, the next registration of the video (here a repeat) deletes it.
    first.ports.clock = () => start + settings.revisionGraceSeconds * 1000 + 1;
    await registerRoute(second.input, first.ports, settings);
    expect(await functions()).toEqual([`lhls-${first.job.videoId}-bbbb2222-0`]);
    expect(await first.ports.objects.head('output', first.playlist.playlistKey)).toBeUndefined();
    // The next revision's record leaves it out, and retires the one it replaces.
    const third = await ready('cccc3333', first);
    await registerRoute(third.input, first.ports, settings);
    expect((await readRoute(first.ports.objects, first.job.videoId))!.retired?.map((r) => r.revision)).toEqual(['bbbb2222']);
  });

  it('finishes from the route record when retried after the switch, the work files already gone', async () => {
    const first = await ready('aaaa1111');
    await registerRoute(first.input, first.ports, settings);
    const second = await ready('bbbb2222', first);
    // The first attempt switched the route, then failed while deleting the work files.
    const remove = first.ports.objects.delete.bind(first.ports.objects);
    first.ports.objects.delete = () => Promise.reject(new Error('connection reset'));
    await expect(registerRoute(second.input, first.ports, settings)).rejects.toThrow('connection reset');
    first.ports.objects.delete = remove;
    // The retry reads no offsets (they are gone with the work files) and completes the clean-up.
    await first.ports.objects.delete('work', second.input.offsetsKey);
    await expect(registerRoute(second.input, first.ports, settings)).resolves.toMatchObject({ revision: 'bbbb2222', packages: 1 });
    expect(await first.ports.objects.list('work', keys.workPrefix(first.job.videoId, 'bbbb2222'))).toEqual([]);
    expect((await readRoute(first.ports.objects, first.job.videoId))!.retired).toMatchObject([{ revision: 'aaaa1111' }]);
  });

  it("writes the record only if it is as read: one that changed meanwhile is read again, and the other writer's revision retired", async () => {
    const first = await ready('aaaa1111');
    const second = await ready('bbbb2222', first);
    const third = await ready('cccc3333', first);
    await registerRoute(first.input, first.ports, settings);
    // Between this run's read and its write, another run registers its revision.
    const putIf = first.ports.objects.putIf.bind(first.ports.objects);
    let interleaved = false;
    first.ports.objects.putIf = async (...args: Parameters<typeof putIf>) => {
      if (!interleaved) {
        interleaved = true;
        first.ports.objects.putIf = putIf;
        await registerRoute(third.input, first.ports, settings);
      }
      return putIf(...args);
    };
    await registerRoute(second.input, first.ports, settings);
    const route = await readRoute(first.ports.objects, first.job.videoId);
    expect([route!.revision, route!.retired?.map((r) => r.revision)]).toEqual(['bbbb2222', ['cccc3333', 'aaaa1111']]);
  });

  it('refuses to replace the route of a later upload of the key (Superseded), whichever run finishes last', async () => {
    const earlier = await ready('aaaa1111');
    const later = await ready('bbbb2222', earlier);
    const withUpload = (r: typeof earlier, sequencer: string) => ({ ...r.input, job: { ...r.input.job, upload: { sequencer } } });
    await registerRoute(withUpload(later, '0055AED6DCD90281F0'), earlier.ports, settings);
    await expect(registerRoute(withUpload(earlier, '0055AED6DCD90281E5'), earlier.ports, settings)).rejects.toMatchObject({
      name: 'Superseded',
      message: expect.stringContaining('a later upload of'),
    });
    // Sequencers of other lengths compare as AWS says: the shorter padded with zeros on the right.
    await expect(registerRoute(withUpload(earlier, '0055AED6DCD90281E'), earlier.ports, settings)).rejects.toMatchObject({
      name: 'Superseded',
    });
    expect((await readRoute(earlier.ports.objects, earlier.job.videoId))!.revision).toBe('bbbb2222');
  });

  it('never brings back a video deleted while it converted (VideoDeleted); a run started after the delete registers', async () => {
    const { deleteVideo } = await import('../../../src/registry/deletion');
    const stores = (r: Awaited<ReturnType<typeof ready>>) => ({ objects: r.ports.objects, code: r.ports.code, functionPrefix: 'lhls-' });
    // A first conversion, its route not yet written: a deployed delete leaves its mark.
    const run = await ready('aaaa1111');
    await deleteVideo(stores(run), run.job.videoId, Date.parse('2026-01-01T00:00:00Z'));
    await expect(registerRoute(run.input, run.ports, settings)).rejects.toMatchObject({
      name: 'VideoDeleted',
      message: expect.stringContaining('was deleted at 2026-01-01T00:00:00.000Z, while this run converted it'),
    });
    expect(await readRoute(run.ports.objects, run.job.videoId)).toBeUndefined();
    // A run that began after the delete saw the mark: it replaces it.
    const after = await ready('bbbb2222', run);
    await expect(registerRoute(after.input, run.ports, settings)).resolves.toMatchObject({ revision: 'bbbb2222' });
    // A served video deleted locally (its record gone, no mark) while a new revision converted.
    const next = await ready('cccc3333', run);
    await run.ports.objects.delete('output', keys.route(run.job.videoId));
    await expect(registerRoute(next.input, run.ports, settings)).rejects.toMatchObject({ name: 'VideoDeleted' });
  });

  it('says VideoDeleted, not InputNotFound, when the delete comes between its read of the record and of its offsets', async () => {
    const { deleteVideo } = await import('../../../src/registry/deletion');
    const run = await ready('aaaa1111');
    const get = run.ports.objects.get.bind(run.ports.objects);
    run.ports.objects.get = async (bucket, key) => {
      // The delete marks the record and takes the run's work files, its offsets among them.
      if (key === run.input.offsetsKey) {
        await deleteVideo({ objects: run.ports.objects, code: run.ports.code, functionPrefix: 'lhls-' }, run.job.videoId, 0);
      }
      return get(bucket, key);
    };
    await expect(registerRoute(run.input, run.ports, settings)).rejects.toMatchObject({ name: 'VideoDeleted' });
    expect(await readRoute(run.ports.objects, run.job.videoId)).toBeUndefined();
  });
});
