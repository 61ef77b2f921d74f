// PackageBatch (one iteration of the PackageSegments Map = one batch of consecutive packages):
// each package is a stored zip of consecutive segments, streamed from the work bucket into the
// code store with CRC-32s checked on the way, never whole in memory. What was made is written to
// the work bucket as the batch's receipts; only a small summary goes back to the Map.
import { parseBatch } from '../core/documents';
import { InvalidRequest, SegmentTooLarge } from '../core/errors';
import { numberAt, objectAt, revisionAt, videoIdAt } from '../core/parse';
import type { BatchDocument, BatchResult, PackageReceipt } from '../core/model';
import { keys, packageFunctionName } from '../core/naming';
import { MAX_PACKAGE_BYTES } from '../core/packing';
import { CONTROL_PLANE_RETRY, retryThrottled, retryTransient, type RetryOptions } from '../core/retry';
import { formatBytes } from '../core/units';
import { layoutStoredZip, streamStoredZip } from '../core/zip';
import type { Ports } from '../ports';
import { readDocument } from '../read-document';
import { refusePublished } from '../registry/routes';
import { entry } from './entry';

export type PackageBatchPorts = Pick<Ports, 'objects' | 'code'>;

export interface PackageBatchSettings {
  functionPrefix: string;
  /** Per-package retry timing (tests make it instant). */
  retry?: RetryOptions;
  /**
   * Delete each package's segments from the work bucket once the package is stored, so the disk
   * holds each byte about once (the local backend; in AWS the bucket's lifecycle rule does it).
   */
  releaseStoredSegments?: boolean;
}

/** The Map's item (its ItemSelector): which batch of which revision. */
export interface BatchItem {
  videoId: string;
  revision: string;
  batch: number;
}

export function parsePackageBatchInput(event: unknown): BatchItem {
  const raw = objectAt(event, 'Map item');
  const batch = numberAt(raw.batch, 'batch');
  if (!Number.isInteger(batch) || batch < 0) throw new InvalidRequest('batch must be a whole number ≥ 0');
  return { videoId: videoIdAt(raw.videoId, 'videoId'), revision: revisionAt(raw.revision, 'revision'), batch };
}

export async function packageBatch(item: BatchItem, ports: PackageBatchPorts, settings: PackageBatchSettings): Promise<BatchResult> {
  const { videoId, revision, batch } = item;
  // ValidateInput refused this already; a batch retried or run by hand late must not update a served function.
  await refusePublished(ports.objects, videoId, revision);
  const plan = await readDocument(ports.objects, 'work', keys.batch(videoId, revision, batch), parseBatch);

  const result: BatchResult = { batch, packages: 0, zipBytes: 0, created: 0, retries: 0 };
  const receipts: PackageReceipt[] = [];
  // One package at a time: CreateFunction shares ~15 requests/s per account, and the Map already
  // runs a few batches side by side. Each package is retried on its own, so one throttled call
  // does not throw away the batch's earlier packages (a retried batch would reuse them anyway).
  for (const pkg of plan.packages) {
    const receipt = await retryTransient(
      () =>
        storePackage(item, pkg, ports, settings, (absorbed) => {
          result.retries += absorbed; // what the code store retried itself shows in the history too
        }),
      { ...CONTROL_PLANE_RETRY, ...settings.retry, onRetry: () => result.retries++ },
    );
    receipts.push(receipt);
    result.packages++;
    result.zipBytes += receipt.zipBytes;
    if (receipt.created) result.created++;
  }
  // Created one after another, each Pending a while: waited for once, together (PackageBatch's
  // timeout is budgeted for one wait per batch: src/core/packing.ts CREATE_FUNCTION_BUDGET).
  // One not Active in time fails the Task (ResourceConflictException), which the state machine
  // retries; a retried batch finds its packages made and waits again.
  await retryThrottled(() => ports.code.ready(receipts.map((r) => r.functionName)), {
    ...CONTROL_PLANE_RETRY,
    ...settings.retry,
    onRetry: () => result.retries++,
  });
  await ports.objects.put('work', keys.receipts(videoId, revision, batch), JSON.stringify(receipts), 'application/json');
  return result;
}

async function storePackage(
  { videoId, revision }: BatchItem,
  pkg: BatchDocument['packages'][number],
  ports: PackageBatchPorts,
  { functionPrefix, releaseStoredSegments }: PackageBatchSettings,
  onStoreRetries: (count: number) => void,
): Promise<PackageReceipt> {
  const functionName = packageFunctionName(functionPrefix, videoId, revision, pkg.package);
  const layout = layoutStoredZip(pkg.entries.map((e) => ({ name: e.name, size: e.bytes, crc32: e.crc32 })));
  if (layout.size > MAX_PACKAGE_BYTES) {
    // SegmentMedia plans packages within the limit; this guards a hand-made batch.
    throw new SegmentTooLarge(
      `package ${pkg.package} would be ${formatBytes(layout.size)}; a package holds at most ${formatBytes(MAX_PACKAGE_BYTES)}: use shorter segments`,
    );
  }
  const receipt = (codeSha256: string, created: boolean): PackageReceipt => ({
    package: pkg.package,
    functionName,
    codeSha256,
    zipBytes: layout.size,
    created,
    entries: pkg.entries.map(({ index, name, bytes, crc32 }) => ({ index, name, bytes, crc32 })),
  });
  // Segments are released in order once their package is stored: a retried batch that finds the
  // first gone finds the package made before (a store writes a package whole or not at all).
  if (releaseStoredSegments && !(await ports.objects.head('work', pkg.entries[0]!.key))) {
    const made = await ports.code.describe(functionName);
    if (made?.codeSize === layout.size) return receipt(made.codeSha256, false);
  }
  // The claim comes first: whatever happens after it, CleanUp knows this function may exist.
  await ports.objects.put('work', keys.packageClaim(videoId, revision, functionName), '', 'text/plain');
  const stored = await ports.code.createPackage(functionName, {
    size: layout.size,
    chunks: () => streamStoredZip(layout, (i) => ports.objects.read('work', pkg.entries[i]!.key)),
  });
  onStoreRetries(stored.retries ?? 0);
  if (releaseStoredSegments) for (const entry of pkg.entries) await ports.objects.delete('work', entry.key);
  return receipt(stored.codeSha256, stored.created);
}

/** packageBatch's entry in the step table. */
export const packageBatchStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'code'],
  variables: ['LAMBDA_HLS_FUNCTION_PREFIX', 'SEGMENT_ROLE_ARN', 'LAMBDA_HLS_SEGMENT_RUNTIME'],
  // Read a segment, write the claim, stage packages over 50 MB (Lambda reads them as the caller);
  // the route, to refuse a published revision.
  access: {
    objects: { work: ['get', 'put', 'delete', 'list'], 'output/routes': ['get'], output: ['list'] },
    code: ['create', 'read', 'update'],
  },
  parse: parsePackageBatchInput,
  run: packageBatch,
  progress: (result) => ({ packages: result.packages, ...(result.retries > 0 && { callRetries: result.retries }) }),
});
