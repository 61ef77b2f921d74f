import { parseWritePlaylistInput } from '../../../src/steps/write-playlist';
import { keys } from '../../../src/core/naming';
import { checkPlaylist } from '../../../src/core/playlist';
import { convertInMemory, segmentsOf, stepSettings, uploadedClip } from '../../support/steps';

describe('WritePlaylist', () => {
  it("writes a VOD playlist of byte ranges into the packages, at the revision's playlist key", async () => {
    const clip = await uploadedClip({ segments: [...segmentsOf(1000, 2000), { bytes: 500, duration: 4.5 }] });
    const { job, playlist } = await convertInMemory(clip, stepSettings({ packageBytes: 3500 }));
    expect(playlist).toEqual({
      playlistKey: keys.playlist(job.videoId, job.revision),
      segmentCount: 3,
      durationSeconds: 24.5,
      targetDuration: 10,
    });
    const check = checkPlaylist((await clip.ports.objects.get('output', playlist.playlistKey)).toString());
    expect(check.problems).toEqual([]);
    expect(check.segments.map((s) => [s.uri, s.length])).toEqual([
      [`${job.revision}/0.ts`, 1000],
      [`${job.revision}/0.ts`, 2000],
      [`${job.revision}/1.ts`, 500],
    ]);
  });

  it('refuses an input without the offsets key', () => {
    expect(() => parseWritePlaylistInput({ job: {} })).toThrow(/job\.source must be an object/);
  });
});
