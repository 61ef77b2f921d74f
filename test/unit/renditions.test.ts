import { parseManifest } from '../../src/core/documents';
import { planEncoding } from '../../src/core/encoding';
import type { Job } from '../../src/core/model';
import { CONSOLE_INPUT_HELP, parseEncodingPlan, parseJob, parseOptions } from '../../src/core/parse';
import { describeRenditions, RENDITION_NAMES, RENDITIONS, renditionNamed } from '../../src/core/renditions';

const source: Job['source'] = { key: 'a.mp4', bytes: 1000, extension: '.mp4', kind: 'video' };
const media: Job['media'] = {
  formatName: 'mov,mp4',
  durationSeconds: 10,
  video: { codec: 'h264', width: 1280, height: 720, profile: 'High', level: 31, pixelFormat: 'yuv420p', frameRate: 25 },
  audio: { codec: 'aac', channels: 2, sampleRate: 48000, profile: 'LC' },
};

describe('the rendition table', () => {
  it('names each rendition once, and its names are the profile option, the console help and --help', () => {
    expect(new Set(RENDITION_NAMES).size).toBe(RENDITIONS.length);
    expect(RENDITION_NAMES).toEqual(['source', '360p']);
    for (const name of RENDITION_NAMES) {
      expect(parseOptions({ profile: name }).profile).toBe(name);
      expect(CONSOLE_INPUT_HELP).toContain(`"${name}"`);
      expect(describeRenditions()).toContain(`${name}: ${renditionNamed(name).summary}`);
    }
    expect(() => parseOptions({ profile: '4k' })).toThrow('options.profile must be one of source, 360p');
  });

  it("plans each row: a playable H.264 source copied for the row that copies it, encoded to the row's rendition otherwise", () => {
    for (const rendition of RENDITIONS) {
      const plan = planEncoding({ source, media, options: { segmentSeconds: 6, profile: rendition.name } });
      if (rendition.copiesPlayableSource) expect(plan).toMatchObject({ video: 'copy' });
      else expect(plan).toMatchObject({ video: 'encode', rendition: rendition.name });
    }
    const hevc = { ...media, video: { ...media.video!, codec: 'hevc', profile: 'Main' } };
    expect(planEncoding({ source, media: hevc, options: { segmentSeconds: 6, profile: 'source' } })).toMatchObject({
      video: 'encode',
      rendition: 'source',
    });
  });

  it('reads the plans written before the table (a run in flight across a deploy) as the rendition they made', () => {
    expect(parseEncodingPlan({ video: 'h264', audio: 'aac' }, 'plan')).toEqual({ video: 'encode', rendition: 'source', audio: 'aac' });
    expect(parseEncodingPlan({ video: 'h264-360p', audio: 'copy' }, 'plan')).toEqual({ video: 'encode', rendition: '360p', audio: 'copy' });
    expect(parseEncodingPlan({ video: 'copy', audio: 'copy' }, 'plan')).toEqual({ video: 'copy', audio: 'copy' });
    const job = {
      videoId: 'a-123456',
      revision: 'abcd1234',
      source,
      media,
      options: { segmentSeconds: 6, profile: '360p' },
      plan: { video: 'h264-360p', audio: 'aac', reasons: ['--profile 360p'] },
    };
    expect(parseJob(job).plan).toEqual({ video: 'encode', rendition: '360p', audio: 'aac', reasons: ['--profile 360p'] });
    // A manifest written before its plan was named `plan` (it was `encoding`).
    const manifest = { videoId: 'a-123456', revision: 'abcd1234', encoding: { video: 'h264', audio: 'copy' }, segments: [] };
    expect(parseManifest(manifest, 'manifest').plan).toEqual({ video: 'encode', rendition: 'source', audio: 'copy' });
  });

  it('refuses an encoded picture without its rendition, and a rendition that is not in the table', () => {
    expect(() => parseEncodingPlan({ video: 'encode', audio: 'aac' }, 'plan')).toThrow(/plan\.rendition must be one of source, 360p/);
    expect(() => parseEncodingPlan({ video: 'encode', rendition: '4k', audio: 'aac' }, 'plan')).toThrow(/plan\.rendition/);
    expect(() => parseEncodingPlan({ video: 'h265', audio: 'aac' }, 'plan')).toThrow(
      'plan.video must be one of copy, encode, ladder, none',
    );
  });
});
