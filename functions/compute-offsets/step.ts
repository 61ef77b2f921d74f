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
import type { CodeStore, ObjectStore } from '../../src/ports';

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
    index: numberAt(raw.index, `${path}.index`),
    functionName: stringAt(raw.functionName, `${path}.functionName`),
    entryName: stringAt(raw.entryName, `${path}.entryName`),
    codeSha256: stringAt(raw.codeSha256, `${path}.codeSha256`),
    zipBytes: numberAt(raw.zipBytes, `${path}.zipBytes`),
    created: raw.created === true,
  };
}

async function readJson(objects: ObjectStore, key: string): Promise<unknown> {
  return JSON.parse((await objects.get('work', key)).toString('utf8'));
}

export async function computeOffsets(
  event: unknown,
  ports: ComputeOffsetsPorts,
): Promise<{ offsetsKey: string; segmentCount: number; packageBytes: number }> {
  const raw = objectAt(event, 'input');
  const job = parseJob(raw.job);
  const manifest = (await readJson(ports.objects, stringAt(raw.manifestKey, 'manifestKey'))) as SegmentManifest;
  // The Map's result names each batch's receipts object; the receipts themselves never pass
  // through the state machine.
  const receiptsKeys = arrayAt(raw.batches, 'batches').map((batch, i) =>
    stringAt(objectAt(batch, `batches[${i}]`).receiptsKey, `batches[${i}].receiptsKey`),
  );
  const receipts = (
    await mapLimit(receiptsKeys, ports.concurrency ?? 8, async (key) =>
      arrayAt(await readJson(ports.objects, key), key).map((r, j) => parseReceipt(r, `${key}[${j}]`)),
    )
  ).flat();
  const byIndex = new Map(receipts.map((r) => [r.index, r]));
  if (byIndex.size !== manifest.segments.length) {
    throw new PackageMismatch(`${manifest.segments.length} segments but ${byIndex.size} packages`);
  }

  // Each package is read back on its own, retried on throttling and transient faults: one bad call
  // out of hundreds must not throw away the whole Task's work (the ASL Retry repeats all of it).
  const segments = await mapLimit(manifest.segments, ports.concurrency ?? 8, (segment) =>
    retryTransient(() => readBack(segment), { attempts: 5, ...ports.retry }),
  );
  async function readBack(segment: SegmentManifest['segments'][number]): Promise<SegmentOffset> {
    const receipt = byIndex.get(segment.index);
    if (!receipt) throw new PackageMismatch(`segment ${segment.index} has no package`);
    const location = await ports.code.describe(receipt.functionName);
    if (!location) throw new PackageMismatch(`function ${receipt.functionName} does not exist`);
    if (location.codeSha256 !== receipt.codeSha256) {
      throw new PackageMismatch(
        `function ${receipt.functionName} holds code ${location.codeSha256}, not the package written (${receipt.codeSha256})`,
      );
    }
    let bytes = await ports.code.readRange(location.url, 0, Math.min(FIRST_READ, location.codeSize) - 1);
    let header = parseLocalHeader(bytes);
    if ('needBytes' in header) {
      bytes = await ports.code.readRange(location.url, 0, header.needBytes - 1);
      header = parseLocalHeader(bytes);
    }
    if ('needBytes' in header) throw new PackageMismatch(`package ${receipt.functionName} has a truncated header`);
    if (header.method !== 0) throw new PackageMismatch(`package ${receipt.functionName} is compressed (method ${header.method})`);
    if (header.name !== receipt.entryName || header.compressedSize !== segment.bytes) {
      throw new PackageMismatch(
        `package ${receipt.functionName} holds ${header.name} (${header.compressedSize} bytes), expected ${receipt.entryName} (${segment.bytes} bytes)`,
      );
    }
    return {
      index: segment.index,
      functionName: receipt.functionName,
      offset: header.headerLength,
      length: header.compressedSize,
      duration: segment.duration,
    };
  }

  const document: OffsetsDocument = { videoId: job.videoId, revision: job.revision, segments };
  const offsetsKey = keys.offsets(job.videoId, job.revision);
  await ports.objects.put('work', offsetsKey, JSON.stringify(document), 'application/json');
  return {
    offsetsKey,
    segmentCount: segments.length,
    packageBytes: receipts.reduce((sum, r) => sum + r.zipBytes, 0),
  };
}

