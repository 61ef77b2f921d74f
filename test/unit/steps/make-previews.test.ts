import { TransientNetworkError } from '../../../src/core/errors';
import { keys } from '../../../src/core/naming';
import { makePreviews } from '../../../src/steps/make-previews';
import type { PosterRequest } from '../../../src/ports';
import { stepSettings, uploadedClip } from '../../support/steps';
import { validateInput } from '../../../src/steps/validate-input';

async function clipJob() {
  const clip = await uploadedClip();
  const job = await validateInput(clip.request, clip.ports, stepSettings());
  return { ...clip, job };
}

describe('MakePreviews', () => {
  it('takes the first poster candidate that is not nearly black, and writes the storyboard beside the playlists', async () => {
    const { ports, media, job } = await clipJob();
    const lumas = [18, 90, 120];
    media.poster = async (request: PosterRequest) => {
      media.posters.push(request);
      await require('node:fs/promises').writeFile(request.output, Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
      return { seconds: request.at + 0.5, meanLuma: lumas[media.posters.length - 1]! };
    };
    const result = await makePreviews({ job }, ports, stepSettings());
    // 30 s: looked at 3 s (black), then 9 s; not at 15 s.
    expect(media.posters.map((p) => p.at)).toEqual([3, 9]);
    expect(result.poster).toEqual({ key: keys.poster(job.videoId, job.revision), seconds: 9.5, width: 320, height: 180 });
    expect(result.storyboard).toMatchObject({ key: keys.storyboard(job.videoId, job.revision), tiles: 30, intervalSeconds: 1 });
    const track = (await ports.objects.get('output', result.storyboard!.key)).toString();
    expect(track.split('\n').slice(2, 4)).toEqual(['00:00:00.000 --> 00:00:01.000', 'storyboard.jpg#xywh=0,0,160,90']);
    expect(await ports.objects.head('output', result.storyboard!.imageKey)).toBeDefined();
  });

  it('takes the brightest when every candidate is dark', async () => {
    const { ports, media, job } = await clipJob();
    const lumas = [20, 25, 22];
    media.poster = async (request: PosterRequest) => {
      media.posters.push(request);
      await require('node:fs/promises').writeFile(request.output, Buffer.from(`candidate ${media.posters.length}`));
      return { seconds: request.at, meanLuma: lumas[media.posters.length - 1]! };
    };
    const result = await makePreviews({ job }, ports, stepSettings());
    expect(result.poster?.seconds).toBe(9);
    expect((await ports.objects.get('output', result.poster!.key)).toString()).toBe('candidate 2');
  });

  it("throws the stores' faults for the state machine to retry, rather than publish without pictures", async () => {
    const { ports, job } = await clipJob();
    const put = ports.objects.putFile.bind(ports.objects);
    ports.objects.putFile = async (...args: Parameters<typeof put>) => {
      if (args[1].endsWith('poster.jpg')) throw new TransientNetworkError('connection reset');
      return put(...args);
    };
    await expect(makePreviews({ job }, ports, stepSettings())).rejects.toThrow(TransientNetworkError);
  });
});
