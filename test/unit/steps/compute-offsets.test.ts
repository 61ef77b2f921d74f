import { computeOffsets, parseComputeOffsetsInput } from '../../../src/steps/compute-offsets';
import { packageBatch } from '../../../src/steps/package-batch';
import { validateInput } from '../../../src/steps/validate-input';
import { parseOffsets } from '../../../src/core/documents';
import { TransientNetworkError } from '../../../src/core/errors';
import { keys } from '../../../src/core/naming';
import { readDocument } from '../../../src/read-document';
import { segmentInMemory, segmentsOf, stepSettings, uploadedClip } from '../../support/steps';

/** Everything up to ComputeOffsets, two packages of 1000-, 2000- and 1500-byte segments. */
async function packaged() {
  const settings = stepSettings({ packageBytes: 3500 });
  const clip = await uploadedClip({ segments: segmentsOf(1000, 2000, 1500) });
  const job = await validateInput(clip.request, clip.ports, settings);
  const segmented = await segmentInMemory(job, clip.ports, settings);
  for (const batch of segmented.batches) await packageBatch({ videoId: job.videoId, revision: job.revision, batch }, clip.ports, settings);
  const input = parseComputeOffsetsInput({ job, manifestKey: segmented.manifestKey, batches: segmented.batches });
  return { ...clip, job, input, settings };
}

describe('ComputeOffsets', () => {
  it('points every segment at its own bytes inside its package, read back through the signed URL', async () => {
    const { ports, input, settings } = await packaged();
    const result = await computeOffsets(input, ports, settings);
    expect(result).toMatchObject({ segmentCount: 3, packageCount: 2 });
    const offsets = await readDocument(ports.objects, 'work', result.offsetsKey, parseOffsets);
    expect(offsets.segments.map((s) => [s.index, s.package, s.length, s.duration])).toEqual([
      [0, 0, 1000, 10],
      [1, 0, 2000, 10],
      [2, 1, 1500, 10],
    ]);
    for (const s of offsets.segments) {
      const location = (await ports.code.describe(s.functionName))!;
      const bytes = await ports.code.readRange(location.url, s.offset, s.offset + s.length - 1);
      expect(bytes.equals(Buffer.alloc(s.length, 0x47))).toBe(true);
      // The byte before the segment is the end of its entry's name in the local header.
      expect((await ports.code.readRange(location.url, s.offset - 3, s.offset - 1)).toString()).toBe('.ts');
    }
  });

  it('fails with PackageMismatch when a package function is gone', async () => {
    const { ports, input, settings } = await packaged();
    await ports.code.delete(`lhls-${input.job.videoId}-abcd1234-1`);
    await expect(computeOffsets(input, ports, settings)).rejects.toMatchObject({
      name: 'PackageMismatch',
      message: expect.stringMatching(/-1 does not exist$/),
    });
  });

  it('fails with PackageMismatch when the stored code is not the package written', async () => {
    const { ports, input, settings } = await packaged();
    const name = `lhls-${input.job.videoId}-abcd1234-0`;
    const zip = ports.code.functions.get(name)!;
    ports.code.functions.set(name, Buffer.concat([zip, Buffer.from('x')]));
    await expect(computeOffsets(input, ports, settings)).rejects.toMatchObject({
      name: 'PackageMismatch',
      message: expect.stringMatching(/not the package written/),
    });
  });

  it('fails with PackageMismatch when a package holds other entries than its receipt says', async () => {
    const { ports, input, settings } = await packaged();
    const key = keys.receipts(input.job.videoId, input.job.revision, 0);
    const receipts = JSON.parse((await ports.objects.get('work', key)).toString()) as { entries: { bytes: number }[] }[];
    receipts[0]!.entries[0]!.bytes = 999;
    await ports.objects.put('work', key, JSON.stringify(receipts));
    await expect(computeOffsets(input, ports, settings)).rejects.toMatchObject({
      name: 'PackageMismatch',
      message: expect.stringMatching(/expected 00000\.ts \(999 bytes\)/),
    });
  });

  it('fails with PackageMismatch when the packages do not hold every segment of the manifest', async () => {
    const { ports, input, settings } = await packaged();
    await ports.objects.put('work', keys.receipts(input.job.videoId, input.job.revision, 0), '[]');
    await expect(computeOffsets(input, ports, settings)).rejects.toMatchObject({
      name: 'PackageMismatch',
      message: '3 segments, but the packages hold 0 entries',
    });
  });

  it('retries a transient failure reading one package without starting over', async () => {
    const { ports, input, settings } = await packaged();
    const describe = ports.code.describe.bind(ports.code);
    let failed = 0;
    ports.code.describe = async (name) => (failed++ === 0 ? Promise.reject(new TransientNetworkError('reset')) : describe(name));
    await expect(computeOffsets(input, ports, settings)).resolves.toMatchObject({ segmentCount: 3 });
    expect(failed).toBe(3); // one failed read, then each of the two packages once
  });

  it('refuses receipts of the wrong shape, naming the field', async () => {
    const { ports, input, settings } = await packaged();
    await ports.objects.put('work', keys.receipts(input.job.videoId, input.job.revision, 0), '[{"package":0}]');
    await expect(computeOffsets(input, ports, settings)).rejects.toMatchObject({
      name: 'InvalidRequest',
      message: expect.stringMatching(/receipts\/00000\.json\[0\]\.functionName must be a non-empty string$/),
    });
  });
});
