// How long a conversion takes in AWS before it plays, estimated from the same planners a run uses
// (the encoding plan, the chunks, the packing and batches) and their pessimistic figures, for the
// README and `npm run bench`. Pure. What it assumes is returned with the figures.
import { encodeLimitsOf, type EncodeSettings, isChunked, planChunks, TASK_OVERHEAD_SECONDS } from './chunks';
import { planEncoding } from './encoding';
import type { EncodingPlan, Job } from './model';
import { batchLimitsFor, createSeconds, CREATE_FUNCTION_BUDGET, DEFAULT_PACKING, planBatches, planPackages } from './packing';
import { LADDER_AUDIO_KBPS } from './renditions';

/** The input read at this rate (S3 to a 3 GB Lambda), as the chunk planner assumes. */
const READ_BYTES_PER_SECOND = 80 * 1000 ** 2;
/** MPEG-TS overhead on a rung's rates (PES headers, packet padding, tables): measured 3-7 %. */
const TS_OVERHEAD = 1.06;

export interface DeployedShape extends EncodeSettings {
  /** PackageSegments' MaxConcurrency (the ASL) and packageBatch's timeout (serverless.yml). */
  packagingConcurrency: number;
  packageTimeoutSeconds: number;
}

export interface ReadyEstimate {
  plan: EncodingPlan;
  /** Seconds: SegmentMedia (a copy's run and the sound), the EncodeChunks Map, PackageSegments, MakePreviews, in all. */
  segmentSeconds: number;
  mapSeconds: number;
  packagingSeconds: number;
  previewsSeconds: number;
  totalSeconds: number;
  chunks: number;
  chunkConcurrency: number;
  packages: number;
  storedBytes: number;
  assumptions: string[];
}

/** Bits per second a plan stores: each rung's average (a copied one's is the source's), its sound, TS overhead. */
function storedBitRate(plan: EncodingPlan, sourceBitRate: number): number {
  if (plan.video !== 'ladder') return sourceBitRate * TS_OVERHEAD;
  return plan.rungs.reduce(
    (sum, r) => sum + (r.copy ? sourceBitRate : (r.kbps + LADDER_AUDIO_KBPS[r.audio === 'low' ? 'low' : 'shared']) * 1000) * TS_OVERHEAD,
    0,
  );
}

export function estimateReady(job: Pick<Job, 'source' | 'media' | 'options'>, deployed: DeployedShape): ReadyEstimate {
  const plan = planEncoding(job);
  const duration = job.media.durationSeconds;
  const sourceBitRate = (job.source.bytes * 8) / duration;
  const limits = encodeLimitsOf(deployed);
  const chunking = isChunked(plan) ? planChunks(job, plan, limits) : undefined;
  const read = job.source.bytes / READ_BYTES_PER_SECOND;
  // SegmentMedia: a copied top rung read and cut in one run, then the sound (the planner's own estimate).
  const copies = plan.video === 'copy' || (plan.video === 'ladder' && plan.rungs[0]?.copy === true);
  const segmentSeconds = TASK_OVERHEAD_SECONDS + (copies ? read : 0) + (chunking?.estimate.audioSeconds ?? 0);
  const mapSeconds = chunking?.estimate.mapSeconds ?? 0;
  const storedBytes = (storedBitRate(plan, sourceBitRate) * duration) / 8;
  // Segments of the stored size, packed and created in batches, 4 batches at once.
  const segmentCount = Math.ceil(duration / job.options.segmentSeconds);
  const rungs = plan.video === 'ladder' ? plan.rungs.length : 1;
  const perSegment = storedBytes / (segmentCount * rungs);
  const segments = Array.from({ length: segmentCount * rungs }, (_, index) => ({ index, bytes: Math.round(perSegment) }));
  const packages = planPackages(segments, DEFAULT_PACKING);
  const batches = planBatches(packages, batchLimitsFor(deployed.packageTimeoutSeconds));
  const batchSeconds = batches.map(
    (b) =>
      packages.slice(b.firstPackage, b.firstPackage + b.packageCount).reduce((sum, p) => sum + createSeconds(p.bytes), 0) +
      CREATE_FUNCTION_BUDGET.activeSeconds,
  );
  const packagingSeconds = Math.ceil(batches.length / deployed.packagingConcurrency) * Math.max(0, ...batchSeconds);
  // MakePreviews: the storyboard demuxes the whole input (decoding its keyframes only), the poster a few seconds.
  const previewsSeconds = job.media.video ? TASK_OVERHEAD_SECONDS + read : 0;
  return {
    plan,
    segmentSeconds,
    mapSeconds,
    packagingSeconds,
    previewsSeconds,
    totalSeconds: segmentSeconds + mapSeconds + packagingSeconds + previewsSeconds,
    chunks: chunking?.chunks.length ?? 0,
    chunkConcurrency: chunking?.concurrency ?? 0,
    packages: packages.length,
    storedBytes,
    assumptions: [
      `encoding at ${deployed.encodeSpeedMegapixels} Mpx per CPU-second (libx264 veryfast, halved for real footage), ${limits.cpus.toFixed(1)} vCPUs per task (${deployed.encodeMemoryMb} MB), ${deployed.encodeConcurrency} tasks at once, ${TASK_OVERHEAD_SECONDS} s fixed cost each`,
      `the input read at ${READ_BYTES_PER_SECOND / 1e6} MB/s; the sound encoded at 100× real time`,
      `CreateFunction at ${CREATE_FUNCTION_BUDGET.bytesPerSecond / 1e6} MB/s plus ${CREATE_FUNCTION_BUDGET.requestSeconds} s a package and ${CREATE_FUNCTION_BUDGET.activeSeconds} s a batch to be Active, ${deployed.packagingConcurrency} batches at once (the control plane's 15 requests/s not reached)`,
      'ValidateInput, ComputeOffsets, WritePlaylist and RegisterRoute: seconds, left out',
    ],
  };
}
