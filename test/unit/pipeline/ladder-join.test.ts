// How a ladder's rungs are joined before packing (src/pipeline/segments.ts): numbered across the
// rungs, rung after rung, every rung declaring the top rung's times, and a last sliver merged in
// every rung or in none — the top rung decides, though another rung's measured length may differ
// by a frame (0.98 s against 1.02 s around the 1-s threshold).
import { DEFAULT_PACKING } from '../../../src/core/packing';
import type { EncodingPlan, Job, RungPlan, SegmentRecord } from '../../../src/core/model';
import { finishSegmentation } from '../../../src/pipeline/segments';
import { freshBackend } from '../../support/fixtures';

const rung = (name: string, copy = false): RungPlan => ({
  name,
  width: 640,
  height: 360,
  kbps: 800,
  maxKbps: 880,
  bufferKbps: 1320,
  profile: 'main',
  audio: 'shared',
  ...(copy && { copy: true as const }),
});
const plan: EncodingPlan = { video: 'ladder', rungs: [rung('360p', true), rung('234p')], audio: 'copy' };
const job: Job = {
  videoId: 'clip-abc123',
  revision: 'abcd1234',
  source: { key: 'clip.mp4', bytes: 1000, extension: '.mp4', kind: 'video' },
  media: { formatName: 'mov', durationSeconds: 12.98 },
  options: { segmentSeconds: 6, profile: 'source', ladder: 'auto' },
  plan,
};

async function stored(backend: ReturnType<typeof freshBackend>, name: string, durations: number[]): Promise<SegmentRecord[]> {
  const records: SegmentRecord[] = [];
  let start = 0;
  for (const [index, duration] of durations.entries()) {
    const key = `${job.videoId}/${job.revision}/segments/${name}/${String(index).padStart(5, '0')}.ts`;
    const bytes = Buffer.alloc(188, index + 1);
    await backend.objects.put('work', key, bytes);
    records.push({ index, rendition: name, key, bytes: 188, crc32: 0, start, duration });
    start += duration;
  }
  return records;
}

async function joined(top: number[], other: number[]) {
  const backend = freshBackend();
  const segments = [...(await stored(backend, '360p', top)), ...(await stored(backend, '234p', other))];
  const settings = { maxPackageBytes: 1_000_000, packageBytes: DEFAULT_PACKING.maxBytes };
  const result = await finishSegmentation(job, plan, segments, backend, settings, {});
  const manifest = JSON.parse((await backend.objects.get('work', result.manifestKey)).toString()) as { segments: SegmentRecord[] };
  return { result, segments: manifest.segments };
}

test('a last sliver the top rung has is merged in every rung, though another measures it a little longer', async () => {
  const { result, segments } = await joined([6, 6, 0.98], [6, 6, 1.02]);
  expect(segments.map((s) => [s.index, s.rendition, s.position, s.duration])).toEqual([
    [0, '360p', 0, 6],
    [1, '360p', 1, 6.98],
    [2, '234p', 0, 6],
    [3, '234p', 1, 6.98],
  ]);
  expect(segments.map((s) => s.bytes)).toEqual([188, 376, 188, 376]);
  // The duration is one rung's, not the sum of the rungs'.
  expect(result.durationSeconds).toBeCloseTo(12.98, 6);
});

test('and none is merged where the top rung has none, though another measures its last under a second', async () => {
  const { segments } = await joined([6, 6, 1.02], [6, 6, 0.98]);
  expect(segments.map((s) => [s.rendition, s.position, s.duration])).toEqual([
    ['360p', 0, 6],
    ['360p', 1, 6],
    ['360p', 2, 1.02],
    ['234p', 0, 6],
    ['234p', 1, 6],
    ['234p', 2, 1.02],
  ]);
});

test('rungs not cut at the same times are refused before anything is packed', async () => {
  await expect(joined([6, 6, 1.5], [6, 5, 2.5])).rejects.toThrow(
    'the 234p rung has 3 segments and the 360p rung 3, apart from segment 2: the rungs are not cut at the same times',
  );
});
