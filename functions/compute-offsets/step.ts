// ComputeOffsets: read every package back the way a player will (its signed URL, a byte range),
// and derive each segment's offset and length from the bytes actually stored.
import { PackageMismatch } from '../../src/core/errors';
import {
  arrayAt, numberAt, objectAt, parseJob, stringAt,
  type OffsetsDocument, type PackageReceipt, type SegmentManifest, type SegmentOffset,
} from '../../src/core/model';
import { keys } from '../../src/core/naming';
import { retryTransient, type RetryOptions } from '../../src/core/retry';
import { parseLocalHeader } from '../../src/core/zip';
import { readJson, type CodeStore, type ObjectStore } from '../../src/ports';

export interface ComputeOffsetsPorts {
  objects: ObjectStore;
  code: CodeStore;
  /** Packages read at once; GetFunction allows ~100 requests/s per account. */
  concurrency?: number;
  /** Per-package retry timing (tests make it instant). */
  retry?: RetryOptions;
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

function parseReceipt(value: unknown, path: string): PackageReceipt {
  const raw = objectAt(value, path);
  return {
    package: numberAt(raw.package, `${path}.package`),
    functionName: stringAt(raw.functionName, `${path}.functionName`),
    codeSha256: stringAt(raw.codeSha256, `${path}.codeSha256`),
    zipBytes: numberAt(raw.zipBytes, `${path}.zipBytes`),
    created: raw.created === true,
    entries: arrayAt(raw.entries, `${path}.entries`).map((e, i) => {
      const entry = objectAt(e, `${path}.entries[${i}]`);
      return {
        index: numberAt(entry.index, `${path}.entries[${i}].index`),
        name: stringAt(entry.name, `${path}.entries[${i}].name`),
        bytes: numberAt(entry.bytes, `${path}.entries[${i}].bytes`),
        crc32: numberAt(entry.crc32, `${path}.entries[${i}].crc32`),
      };
    }),
  };
}

export async function computeOffsets(
  event: unknown,
  ports: ComputeOffsetsPorts,
): Promise<{ offsetsKey: string; segmentCount: number; packageCount: number; packageBytes: number }> {
  const raw = objectAt(event, 'input');
  const job = parseJob(raw.job);
  const manifest = await readJson<SegmentManifest>(ports.objects, 'work', stringAt(raw.manifestKey, 'manifestKey'));
  // Each batch's receipts are in the work bucket under its number; they never pass through the
  // state machine.
  const receiptsKeys = arrayAt(raw.batches, 'batches').map((batch, i) => {
    const n = numberAt(batch, `batches[${i}]`);
    return keys.receipts(job.videoId, job.revision, n);
  });
  const receipts = (
    await mapLimit(receiptsKeys, ports.concurrency ?? 8, async (key) =>
      arrayAt(await readJson<unknown>(ports.objects, 'work', key), key).map((r, j) => parseReceipt(r, `${key}[${j}]`)),
    )
  ).flat();
  const packed = receipts.flatMap((r) => r.entries.map((e) => e.index)).sort((a, b) => a - b);
  if (packed.length !== manifest.segments.length || packed.some((index, i) => index !== i)) {
    throw new PackageMismatch(`${manifest.segments.length} segments, but the packages hold ${packed.length} entries`);
  }
  const durations = new Map(manifest.segments.map((s) => [s.index, s.duration]));

  // Each package is read back on its own, retried on throttling and transient faults: one bad call
  // out of hundreds must not throw away the whole Task's work (the ASL Retry repeats all of it).
  const perPackage = await mapLimit(receipts, ports.concurrency ?? 8, (receipt) =>
    retryTransient(() => readBack(receipt), { attempts: 5, ...ports.retry }),
  );

  /** One GetFunction, then each entry's local header in turn, where the previous entry ends. */
  async function readBack(receipt: PackageReceipt): Promise<SegmentOffset[]> {
    const location = await ports.code.describe(receipt.functionName);
    if (!location) throw new PackageMismatch(`function ${receipt.functionName} does not exist`);
    if (location.codeSha256 !== receipt.codeSha256) {
      throw new PackageMismatch(
        `function ${receipt.functionName} holds code ${location.codeSha256}, not the package written (${receipt.codeSha256})`,
      );
    }
    const offsets: SegmentOffset[] = [];
    let at = 0;
    for (const entry of receipt.entries) {
      const read = (length: number) => ports.code.readRange(location.url, at, Math.min(at + length, location.codeSize) - 1);
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
      offsets.push({
        index: entry.index,
        package: receipt.package,
        functionName: receipt.functionName,
        offset: at + header.headerLength,
        length: header.compressedSize,
        duration: durations.get(entry.index) ?? 0,
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
