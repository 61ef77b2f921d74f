// PackageSegments (one Map iteration = one batch of consecutive segments): each segment becomes
// the only entry of a stored zip, and the zip becomes a function's code package. What was made is
// written to the work bucket as the batch's receipts; only a small summary goes back to the Map,
// so the Map's result stays small however many segments there are.
import { InvalidRequest, SegmentTooLarge } from '../../src/core/errors';
import { numberAt, objectAt, revisionAt, videoIdAt, type BatchResult, type PackageReceipt } from '../../src/core/model';
import { keys, packageFunctionName } from '../../src/core/naming';
import { MAX_PACKAGE_BYTES } from '../../src/core/plan';
import { retryTransient, type RetryOptions } from '../../src/core/retry';
import { writeStoredZip } from '../../src/core/zip';
import { formatBytes } from '../../src/core/units';
import type { CodeStore, ObjectStore } from '../../src/ports';

export interface PackageSegmentsPorts {
  objects: ObjectStore;
  code: CodeStore;
  functionPrefix: string;
  /** Per-segment retry timing (tests make it instant). */
  retry?: RetryOptions;
}

export function segmentEntryName(index: number): string {
  return `${String(index).padStart(5, '0')}.ts`;
}

/** A batch's segment range, checked: the Map item is untrusted JSON like any event. */
function parseBatch(value: unknown): { batch: number; first: number; count: number } {
  const raw = objectAt(value, 'batch');
  const whole = (v: unknown, path: string, min: number) => {
    const n = numberAt(v, path);
    if (!Number.isInteger(n) || n < min) throw new InvalidRequest(`${path} must be a whole number ≥ ${min}`);
    return n;
  };
  return { batch: whole(raw.batch, 'batch.batch', 0), first: whole(raw.first, 'batch.first', 0), count: whole(raw.count, 'batch.count', 1) };
}

export async function packageBatch(event: unknown, ports: PackageSegmentsPorts): Promise<BatchResult> {
  const raw = objectAt(event, 'Map item');
  const videoId = videoIdAt(raw.videoId, 'videoId');
  const revision = revisionAt(raw.revision, 'revision');
  const { batch, first, count } = parseBatch(raw.batch);
  const result: BatchResult = {
    batch, receiptsKey: keys.receipts(videoId, revision, batch), packages: 0, zipBytes: 0, created: 0, retries: 0,
  };
  const receipts: PackageReceipt[] = [];
  // One segment at a time: CreateFunction shares ~15 requests/s per account, and the Map already
  // runs a few batches side by side. Each segment is retried on its own, so one throttled call
  // does not throw away the batch's earlier packages (a retried batch would reuse them anyway).
  for (let index = first; index < first + count; index++) {
    const receipt = await retryTransient(() => packageSegment(videoId, revision, index, ports), {
      attempts: 4,
      ...ports.retry,
      onRetry: () => result.retries++,
    });
    receipts.push(receipt);
    result.packages++;
    result.zipBytes += receipt.zipBytes;
    if (receipt.created) result.created++;
  }
  await ports.objects.put('work', result.receiptsKey, JSON.stringify(receipts), 'application/json');
  return result;
}

async function packageSegment(videoId: string, revision: string, index: number, ports: PackageSegmentsPorts): Promise<PackageReceipt> {
  const functionName = packageFunctionName(ports.functionPrefix, videoId, revision, index);
  const entryName = segmentEntryName(index);
  const data = await ports.objects.get('work', keys.segment(videoId, revision, index));
  if (data.length > MAX_PACKAGE_BYTES) {
    // SegmentMedia refuses such segments before anything is created; this guards a hand-made input.
    throw new SegmentTooLarge(
      `segment ${index} is ${formatBytes(data.length)}; a package holds at most ${formatBytes(MAX_PACKAGE_BYTES)}: use shorter segments`,
    );
  }
  const zip = writeStoredZip([{ name: entryName, data }]);
  // The claim comes first: whatever happens after it, CleanUp knows this function may exist.
  await ports.objects.put('work', keys.packageClaim(videoId, revision, functionName), '', 'text/plain');
  const stored = await ports.code.createPackage(functionName, zip.bytes);
  return {
    index,
    functionName,
    entryName,
    codeSha256: stored.codeSha256,
    zipBytes: zip.bytes.length,
    created: stored.created,
  };
}
