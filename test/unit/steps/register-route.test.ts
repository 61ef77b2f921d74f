import { registerRoute } from '../../../functions/register-route/step';
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
});
