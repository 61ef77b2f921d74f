// ComputeOffsets: read every package back the way a player will (its signed URL, a byte range),
// and derive each segment's offset and length from the bytes actually stored.
import { parseManifest, parseReceipts } from '../core/documents';
import { PackageMismatch } from '../core/errors';
import { arrayAt, numberAt, objectAt, parseJob, stringAt } from '../core/parse';
import type { Job, OffsetsDocument, PackageReceipt, SegmentOffset } from '../core/model';
import { keys } from '../core/naming';
import { CONTROL_PLANE_RETRY, retryTransient, type RetryOptions } from '../core/retry';
import { parseLocalHeader } from '../core/zip';
import type { Ports } from '../ports';
import { readDocument } from '../read-document';
import { entry } from './entry';

export type ComputeOffsetsPorts = Pick<Ports, 'objects' | 'code'>;

export interface ComputeOffsetsSettings {
  /** Per-package retry timing (tests make it instant). */
  retry?: RetryOptions;
}

/** Packages read at once; GetFunction allows ~100 requests/s per account. */
const CONCURRENCY = 8;

export interface ComputeOffsetsInput {
  job: Job;
  manifestKey: string;
  /** The batch numbers SegmentMedia planned: each batch's receipts are at keys.receipts(…, n). */
  batches: number[];
}

export function parseComputeOffsetsInput(event: unknown): ComputeOffsetsInput {
  const raw = objectAt(event, 'input');
  return {
    job: parseJob(raw.job),
    manifestKey: stringAt(raw.manifestKey, 'manifestKey'),
    batches: arrayAt(raw.batches, 'batches').map((batch, i) => numberAt(batch, `batches[${i}]`)),
  };
}

export interface OffsetsResult {
  offsetsKey: string;
  segmentCount: number;
  packageCount: number;
  packageBytes: number;
}

/** One read covers the 30-byte header, any name up to ~1 KB and a small extra field. */
const FIRST_READ = 1024;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function computeOffsets(
  input: ComputeOffsetsInput,
  ports: ComputeOffsetsPorts,
  settings: ComputeOffsetsSettings,
): Promise<OffsetsResult> {
  const { job } = input;
  const manifest = await readDocument(ports.objects, 'work', input.manifestKey, parseManifest);
  // Each batch's receipts are in the work bucket under its number; they never pass through the
  // state machine.
  const receiptsKeys = input.batches.map((n) => keys.receipts(job.videoId, job.revision, n));
  const receipts = (await mapLimit(receiptsKeys, CONCURRENCY, (key) => readDocument(ports.objects, 'work', key, parseReceipts))).flat();
  const packed = receipts.flatMap((r) => r.entries.map((e) => e.index)).sort((a, b) => a - b);
  if (packed.length !== manifest.segments.length || packed.some((index, i) => index !== i)) {
    throw new PackageMismatch(`${manifest.segments.length} segments, but the packages hold ${packed.length} entries`);
  }
  const byIndex = new Map(manifest.segments.map((s) => [s.index, s]));

  // Every call is retried on its own on throttling and transient faults, at the control plane's
  // pace: one bad call out of hundreds must not throw away the whole Task's work (the ASL Retry
  // repeats all of it), nor the reads of a package already begun.
  const retried = <T>(call: () => Promise<T>) => retryTransient(call, { ...CONTROL_PLANE_RETRY, ...settings.retry });
  const perPackage = await mapLimit(receipts, CONCURRENCY, readBack);

  /** One GetFunction, then each entry's local header in turn, where the previous entry ends. */
  async function readBack(receipt: PackageReceipt): Promise<SegmentOffset[]> {
    const location = await retried(() => ports.code.describe(receipt.functionName));
    if (!location) throw new PackageMismatch(`function ${receipt.functionName} does not exist`);
    if (location.codeSha256 !== receipt.codeSha256) {
      throw new PackageMismatch(
        `function ${receipt.functionName} holds code ${location.codeSha256}, not the package written (${receipt.codeSha256})`,
      );
    }
    const offsets: SegmentOffset[] = [];
    let at = 0;
    for (const entry of receipt.entries) {
      const read = (length: number) => retried(() => ports.code.readRange(location.url, at, Math.min(at + length, location.codeSize) - 1));
      if (at >= location.codeSize) throw new PackageMismatch(`package ${receipt.functionName} ends before ${entry.name}`);
      let header = parseLocalHeader(await read(FIRST_READ));
      if ('needBytes' in header) header = parseLocalHeader(await read(header.needBytes));
      if ('needBytes' in header) throw new PackageMismatch(`package ${receipt.functionName} has a truncated header`);
      if (header.method !== 0) throw new PackageMismatch(`package ${receipt.functionName} is compressed (method ${header.method})`);
      if (header.name !== entry.name || header.compressedSize !== entry.bytes || header.crc32 !== entry.crc32) {
        throw new PackageMismatch(
          `package ${receipt.functionName} holds ${header.name} (${header.compressedSize} bytes), expected ${entry.name} (${entry.bytes} bytes)`,
        );
      }
      const segment = byIndex.get(entry.index);
      offsets.push({
        index: entry.index,
        ...(segment?.rendition !== undefined && { rendition: segment.rendition, position: segment.position ?? 0 }),
        ...(segment?.codecs !== undefined && { codecs: segment.codecs }),
        ...(segment?.keyframes !== undefined && { keyframes: segment.keyframes }),
        package: receipt.package,
        functionName: receipt.functionName,
        offset: at + header.headerLength,
        length: header.compressedSize,
        duration: segment?.duration ?? 0,
      });
      at += header.headerLength + header.compressedSize;
    }
    return offsets;
  }

  const segments = perPackage.flat().sort((a, b) => a.index - b.index);
  const document: OffsetsDocument = { videoId: job.videoId, revision: job.revision, segments };
  const offsetsKey = keys.offsets(job.videoId, job.revision);
  await ports.objects.put('work', offsetsKey, JSON.stringify(document), 'application/json');
  return {
    offsetsKey,
    segmentCount: segments.length,
    packageCount: receipts.length,
    packageBytes: receipts.reduce((sum, r) => sum + r.zipBytes, 0),
  };
}

/** computeOffsets's entry in the step table. */
export const computeOffsetsStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'code'],
  variables: [],
  // The manifest in, the offsets out; each package's code URL.
  access: { objects: { work: ['get', 'put', 'list'] }, code: ['read'] },
  parse: parseComputeOffsetsInput,
  run: computeOffsets,
});
