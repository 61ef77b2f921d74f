// SegmentMedia: ffmpeg cuts the source into MPEG-TS segments in scratch space; each goes to the
// work bucket, with a manifest holding ffmpeg's own durations.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CodeStorageQuotaExceeded, InputNotFound, SegmentationFailed, SegmentTooLarge } from '../../src/core/errors';
import { parseJob, type SegmentationResult, type SegmentManifest } from '../../src/core/model';
import { baseName, keys } from '../../src/core/naming';
import { MAX_PACKAGE_BYTES, planBatches, planEncoding, type BatchLimits } from '../../src/core/plan';
import { formatBytes } from '../../src/core/units';
import type { CodeStore, MediaTool, ObjectStore } from '../../src/ports';

export interface SegmentMediaPorts {
  objects: ObjectStore;
  media: MediaTool;
  code: Pick<CodeStore, 'quota'>;
  /** A folder for scratch files (/tmp in Lambda). */
  scratchDir: string;
  /** Largest segment a package may hold (default: Lambda's 250 MB unzipped). */
  maxPackageBytes?: number;
  batchLimits?: BatchLimits;
}

export async function segmentMedia(event: unknown, ports: SegmentMediaPorts): Promise<SegmentationResult> {
  const job = parseJob(event);
  const { videoId, revision } = job;
  const plan = planEncoding(job);
  const outDir = await mkdtemp(join(ports.scratchDir, `segment-${videoId}-`));
  try {
    const gone = () => new InputNotFound(`${JSON.stringify(baseName(job.source.key))} was deleted from the input bucket while it was being converted`);
    const input = await ports.objects.readableLocation('input', job.source.key).catch((error: unknown) => {
      throw error instanceof InputNotFound ? gone() : error;
    });
    const files = await ports.media
      .segment({ input, plan, segmentSeconds: job.options.segmentSeconds, outDir })
      .catch(async (error: unknown) => {
        // ffmpeg fails when its input disappears under it: say so, rather than blame the file.
        if (error instanceof SegmentationFailed && !(await ports.objects.head('input', job.source.key))) throw gone();
        throw error;
      });
    const manifest: SegmentManifest = { videoId, revision, encoding: plan, segments: [] };
    for (const file of files) {
      const key = keys.segment(videoId, revision, file.index);
      await ports.objects.putFile('work', key, file.path, 'video/mp2t');
      await rm(file.path, { force: true }); // keep scratch to one segment's worth once uploaded
      manifest.segments.push({ index: file.index, key, bytes: file.bytes, start: file.start, duration: file.duration });
    }
    // Limits before money: both checks run before any function is created.
    checkSegmentSizes(manifest, Math.min(ports.maxPackageBytes ?? MAX_PACKAGE_BYTES, MAX_PACKAGE_BYTES), job.options.segmentSeconds);
    await checkQuota(ports.code, manifest);
    const manifestKey = keys.manifest(videoId, revision);
    await ports.objects.put('work', manifestKey, JSON.stringify(manifest), 'application/json');
    return {
      manifestKey,
      segmentCount: manifest.segments.length,
      durationSeconds: manifest.segments.reduce((sum, s) => sum + s.duration, 0),
      encoding: plan,
      batches: planBatches(manifest.segments, ports.batchLimits),
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

function checkSegmentSizes(manifest: SegmentManifest, maxBytes: number, segmentSeconds: number): void {
  const largest = manifest.segments.reduce((big, s) => (s.bytes > big.bytes ? s : big), manifest.segments[0]!);
  if (largest && largest.bytes > maxBytes) {
    const shorter = Math.max(1, Math.floor((segmentSeconds * maxBytes) / largest.bytes / 2));
    throw new SegmentTooLarge(
      `segment ${largest.index} is ${formatBytes(largest.bytes)} and a package holds at most ${formatBytes(maxBytes)}: use shorter segments (e.g. --segment-seconds ${shorter}) or a smaller profile (--profile 360p)`,
    );
  }
}

/** Zip overhead per stored entry: local header, central header (with the name twice), end record. */
const ZIP_OVERHEAD_BYTES = 30 + 46 + 22 + 2 * 16;

/** Before any function is created: will the packages fit in the free code storage? */
async function checkQuota(code: Pick<CodeStore, 'quota'>, manifest: SegmentManifest): Promise<void> {
  const needed = manifest.segments.reduce((sum, s) => sum + s.bytes + ZIP_OVERHEAD_BYTES, 0);
  const { limitBytes, usedBytes } = await code.quota();
  const free = Math.max(0, limitBytes - usedBytes);
  if (needed > free) {
    throw new CodeStorageQuotaExceeded(
      `the packages need ${formatBytes(needed)} of code storage but only ${formatBytes(free)} of ${formatBytes(limitBytes)} is free: delete videos or raise the quota`,
    );
  }
}
