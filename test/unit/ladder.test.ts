// Which rungs a source gets (./src/core/ladder.ts): never above its size or its bit rate, its
// aspect kept, the cellular rung always there; and the option's forms.
import { InvalidRequest } from '../../src/core/errors';
import { describePlan, planEncoding } from '../../src/core/encoding';
import { parseLadder, planLadder } from '../../src/core/ladder';
import { parseOptions } from '../../src/core/parse';

const hd = { codec: 'h264', width: 1920, height: 1080, frameRate: 30 };
const sizes = (rungs: ReturnType<typeof planLadder>) => rungs.map((r) => `${r.name} ${r.width}x${r.height} ${r.kbps}k`);

describe('the ladder of a source', () => {
  test('1080p gets every rung, from the top down, the cellular one with its own sound', () => {
    const rungs = planLadder(hd, 'auto');
    expect(sizes(rungs)).toEqual([
      '1080p 1920x1080 5000k',
      '720p 1280x720 2800k',
      '480p 854x480 1401k',
      '360p 640x360 800k',
      '234p 416x234 80k',
    ]);
    expect(rungs.map((r) => r.audio)).toEqual(['shared', 'shared', 'shared', 'shared', 'low']);
    expect(rungs.every((r) => r.width % 2 === 0 && r.height % 2 === 0)).toBe(true);
    // The peak is capped at 110 % of the average, the buffer a second and a half of it.
    expect([rungs[1]!.maxKbps, rungs[1]!.bufferKbps]).toEqual([3080, 4620]);
  });

  test('a source between the table’s sizes keeps its own as the top rung, at the next rung’s rate per pixel (480p, as fast here, is left out)', () => {
    expect(sizes(planLadder({ ...hd, width: 1280, height: 536 }, 'auto')).slice(0, 2)).toEqual([
      '536p 1280x536 2085k',
      '360p 860x360 1075k',
    ]);
  });

  test('never above the source: a 720p source starts at 720p, a 4K one at 1080p', () => {
    expect(planLadder({ ...hd, width: 1280, height: 720 }, 'auto').map((r) => r.name)).toEqual(['720p', '480p', '360p', '234p']);
    expect(planLadder({ ...hd, width: 3840, height: 2160 }, 'auto')[0]!.name).toBe('1080p');
  });

  test('a portrait source (rotated, as phones record) gets a portrait ladder of the same rungs', () => {
    const rungs = planLadder({ ...hd, rotation: 90 }, 'auto');
    expect(sizes(rungs).slice(0, 2)).toEqual(['1080p 1080x1920 5000k', '720p 720x1280 2800k']);
    expect(sizes(planLadder({ ...hd, width: 1080, height: 1920 }, 'auto'))).toEqual(sizes(rungs));
  });

  test('another aspect keeps its own, its rates scaled by its area; 60 fps raises them by half', () => {
    const square = planLadder({ ...hd, width: 1440, height: 1080 }, 'auto');
    expect(sizes(square)[0]).toBe('1080p 1440x1080 3750k');
    expect(planLadder({ ...hd, frameRate: 60 }, 'auto')[0]!.kbps).toBe(7500);
  });

  test("never faster than the source's own bit rate: rungs the cap makes as fast as the one above are left out", () => {
    // A 1 Mbit/s 1080p screen recording: 1080p at 1 Mbit/s, then 360p (800k), then the cellular rung.
    expect(sizes(planLadder({ ...hd, bitRate: 1_000_000 }, 'auto'))).toEqual([
      '1080p 1920x1080 1000k',
      '360p 640x360 800k',
      '234p 416x234 80k',
    ]);
  });

  test('heights asked for are honoured within the source; a source below every rung asked gets one at its own size', () => {
    expect(planLadder(hd, [720, 234]).map((r) => r.name)).toEqual(['720p', '234p']);
    expect(planLadder({ ...hd, width: 1280, height: 720 }, [1080, 720]).map((r) => r.name)).toEqual(['720p']);
    expect(sizes(planLadder({ ...hd, width: 320, height: 180 }, 'auto'))).toEqual(['180p 320x180 200k']);
  });
});

describe('the ladder option', () => {
  test('--ladder takes auto, source, or rung heights (with or without p), and nothing else', () => {
    expect(parseLadder('auto')).toBe('auto');
    expect(parseLadder('source')).toBe('source');
    expect(parseLadder('360,720p,360')).toEqual([720, 360]);
    expect(() => parseLadder('700')).toThrow(InvalidRequest);
    expect(() => parseLadder('700')).toThrow('no 700p rung in the ladder: the rungs are 1080, 720, 480, 360, 234');
    expect(() => parseLadder('big')).toThrow(/--ladder takes auto, source, or heights/);
  });

  test('options.ladder in the console input: absent, the default ladder; "source", one rendition; else as asked; a stored job from before the ladder keeps one rendition', () => {
    expect(parseOptions({}).ladder).toBe('auto');
    expect(parseOptions({ ladder: 'source' }).ladder).toBe('source');
    expect('ladder' in parseOptions({ segmentSeconds: 10, profile: 'source' }, 'job.options', true)).toBe(false);
    expect(parseOptions({ ladder: 'auto' }).ladder).toBe('auto');
    expect(parseOptions({ ladder: [234, 720] }).ladder).toEqual([720, 234]);
    expect(() => parseOptions({ ladder: [700] })).toThrow(
      'options.ladder must be rung heights of the ladder (1080, 720, 480, 360, 234), not 700',
    );
    expect(() => parseOptions({ ladder: 'all' })).toThrow(/options\.ladder must be "auto", "source", or a list/);
  });
});

describe('a ladder of an H.264 source every player decodes', () => {
  const job = (ladder: 'auto' | number[], transcode = false) => ({
    source: { key: 'in/a.mp4', bytes: 1, extension: '.mp4', kind: 'video' as const },
    media: {
      formatName: 'mov',
      durationSeconds: 60,
      video: { ...hd, profile: 'High', level: 40, pixelFormat: 'yuv420p', bitRate: 8_000_000 },
      audio: { codec: 'aac', channels: 2, sampleRate: 48_000, profile: 'LC' },
    },
    options: { segmentSeconds: 6, profile: 'source' as const, ladder, ...(transcode && { transcode: true as const }) },
  });

  test('copies the source as its top rung and encodes only the rungs below it, its sound copied', () => {
    const plan = planEncoding(job('auto'));
    expect(plan.video).toBe('ladder');
    const rungs = plan.video === 'ladder' ? plan.rungs : [];
    expect(rungs.map((r) => [r.name, r.copy ?? false])).toEqual([
      ['1080p', true],
      ['720p', false],
      ['480p', false],
      ['360p', false],
      ['234p', false],
    ]);
    expect(rungs[0]).toMatchObject({ width: 1920, height: 1080, kbps: 8000, profile: 'high' });
    expect(plan.audio).toBe('copy');
    expect(describePlan(plan)).toBe(
      'copying H.264 High 4.0 as its 1080p rung; --ladder auto: encoding 720p 1280x720 2800k, 480p 854x480 1401k, 360p 640x360 800k, 234p 416x234 80k',
    );
  });

  test('encodes every rung with --transcode, or when the heights asked leave out the source’s own', () => {
    for (const plan of [planEncoding(job('auto', true)), planEncoding(job([720, 360]))]) {
      expect(plan.video === 'ladder' && plan.rungs.some((r) => r.copy)).toBe(false);
    }
    const own = planEncoding(job([1080, 360]));
    expect(own.video === 'ladder' && own.rungs.map((r) => [r.name, r.copy ?? false])).toEqual([
      ['1080p', true],
      ['360p', false],
    ]);
  });
});
