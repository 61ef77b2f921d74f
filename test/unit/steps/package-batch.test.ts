import { packageBatch, parsePackageBatchInput } from '../../../src/steps/package-batch';
import { segmentMedia } from '../../../src/steps/segment-media';
import { validateInput } from '../../../src/steps/validate-input';
import { parseReceipts } from '../../../src/core/documents';
import { TooManyRequestsException } from '../../../src/core/errors';
import { keys } from '../../../src/core/naming';
import { readDocument } from '../../../src/read-document';
import { segmentsOf, stepSettings, uploadedClip } from '../../support/steps';
import { parseCentralDirectory } from '../../support/zip';

async function planned() {
  const settings = stepSettings({ packageBytes: 2500 });
  const clip = await uploadedClip({ segments: segmentsOf(1000, 1000, 1000) });
  const job = await validateInput(clip.request, clip.ports, settings);
  await segmentMedia(job, clip.ports, settings);
  const item = { videoId: job.videoId, revision: job.revision, batch: 0 };
  return { ...clip, job, item, settings };
}

describe('PackageBatch', () => {
  it('stores each package as a stored zip of its segments, claimed first, with its receipts', async () => {
    const { ports, item, settings } = await planned();
    const claims: string[] = [];
    const create = ports.code.createPackage.bind(ports.code);
    ports.code.createPackage = async (name, zip) => {
      claims.push(...(await ports.objects.list('work', keys.packageClaimsPrefix(item.videoId, item.revision))).map((o) => o.key));
      return create(name, zip);
    };
    const result = await packageBatch(item, ports, settings);
    expect(result).toMatchObject({ batch: 0, packages: 2, created: 2, retries: 0 });
    const names = (await ports.code.list('')).map((f) => f.name).sort();
    expect(names).toEqual([`lhls-${item.videoId}-abcd1234-0`, `lhls-${item.videoId}-abcd1234-1`]);
    // The claim of each function was in the work bucket before it was created.
    expect(claims.at(-1)).toBe(keys.packageClaim(item.videoId, item.revision, names[1]!));
    const zip = ports.code.functions.get(names[0]!)!;
    const entries = parseCentralDirectory(zip, 0);
    expect(Array.isArray(entries) && entries.map((e) => [e.name, e.method, e.compressedSize])).toEqual([
      ['00000.ts', 0, 1000],
      ['00001.ts', 0, 1000],
    ]);
    const receipts = await readDocument(ports.objects, 'work', keys.receipts(item.videoId, item.revision, 0), parseReceipts);
    expect(receipts.map((r) => [r.functionName, r.entries.length, r.zipBytes])).toEqual([
      [names[0], 2, zip.length],
      [names[1], 1, ports.code.functions.get(names[1]!)!.length],
    ]);
  });

  it('creates the batch’s functions one after another and waits for them to be ready once, together, before its receipts', async () => {
    const { ports, item, settings } = await planned();
    const order: string[] = [];
    const create = ports.code.createPackage.bind(ports.code);
    ports.code.createPackage = async (name, zip) => {
      order.push(`create ${name}`);
      return create(name, zip);
    };
    ports.code.ready = async (names) => {
      order.push(`ready ${names.join(' ')}`);
      expect(await ports.objects.head('work', keys.receipts(item.videoId, item.revision, 0))).toBeUndefined();
    };
    await packageBatch(item, ports, settings);
    const [a, b] = [0, 1].map((n) => `lhls-${item.videoId}-abcd1234-${n}`);
    expect(order).toEqual([`create ${a}`, `create ${b}`, `ready ${a} ${b}`]);
  });

  it('finds identical packages of an earlier run and creates nothing new', async () => {
    const { ports, item, settings } = await planned();
    await packageBatch(item, ports, settings);
    expect(await packageBatch(item, ports, settings)).toMatchObject({ packages: 2, created: 0 });
  });

  it('releases the segments of each package once it is stored, and a retried batch finds the packages made before', async () => {
    const { ports, item, settings } = await planned();
    const segmentsPrefix = keys.segment(item.videoId, item.revision, 0).replace(/[^/]*$/, '');
    const create = ports.code.createPackage.bind(ports.code);
    let calls = 0;
    // The second package fails once, after the first was stored and its segments released.
    ports.code.createPackage = async (name, zip) => (calls++ === 1 ? Promise.reject(new Error('connection lost')) : create(name, zip));
    const releasing = { ...settings, releaseStoredSegments: true, retry: { baseMs: 0, attempts: 1 } };
    await expect(packageBatch(item, ports, releasing)).rejects.toThrow('connection lost');
    expect((await ports.objects.list('work', segmentsPrefix)).map((o) => o.key)).toEqual([keys.segment(item.videoId, item.revision, 2)]);
    // The Map's retry of the batch: the first package is found, not rebuilt from segments no longer there.
    expect(await packageBatch(item, ports, releasing)).toMatchObject({ packages: 2, created: 1 });
    expect(await ports.objects.list('work', segmentsPrefix)).toEqual([]);
    const receipts = await readDocument(ports.objects, 'work', keys.receipts(item.videoId, item.revision, 0), parseReceipts);
    expect(receipts.map((r) => [r.entries.length, r.codeSha256])).toEqual(
      await Promise.all(receipts.map(async (r) => [r.entries.length, (await ports.code.describe(r.functionName))!.codeSha256])),
    );
  });

  it('retries a throttled CreateFunction in the step, counting it in its result', async () => {
    const { ports, item, settings } = await planned();
    const create = ports.code.createPackage.bind(ports.code);
    let throttled = 0;
    ports.code.createPackage = async (name, zip) =>
      throttled++ < 2 ? Promise.reject(new TooManyRequestsException('Rate exceeded')) : create(name, zip);
    expect(await packageBatch(item, ports, settings)).toMatchObject({ packages: 2, created: 2, retries: 2 });
  });

  it('gives up on persistent throttling under the error name the state machine retries', async () => {
    const { ports, item, settings } = await planned();
    ports.code.createPackage = () => Promise.reject(new TooManyRequestsException('Rate exceeded'));
    await expect(packageBatch(item, ports, settings)).rejects.toMatchObject({ name: 'TooManyRequestsException' });
  });

  it('refuses a Map item that is not a batch of a revision', () => {
    expect(() => parsePackageBatchInput({ videoId: 'clip-1a2b3c', revision: 'abcd1234', batch: -1 })).toThrow(
      'batch must be a whole number ≥ 0',
    );
    expect(() => parsePackageBatchInput({ videoId: 'Not An Id', revision: 'abcd1234', batch: 0 })).toThrow(/videoId must be a video id/);
  });
});
