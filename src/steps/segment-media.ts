import { CONTROL_PLANE_RETRY, retryTransient } from '../core/retry';
import { TruncatedInput } from '../core/errors';
import { chunkConcurrencyFor, describeChunking, encodeLimitsOf, isChunked, planChunks, timelineOffset } from '../core/chunks';
import type {
  ChunkDocument,
  ChunkedSegmentation,
  ChunkManifest,
  EncodingPlan,
  Job,
  SegmentationResult,
  SegmentRecord,
} from '../core/model';
import { FORMAT_OF, keys, supportedExtension } from '../core/naming';
import { planEncoding } from '../core/encoding';
import type { SegmentTiming, Timeline } from '../ports';
import { entry, ENCODE_VARIABLES, segmentationProgress } from './entry';
import { describeFfmpegRun } from '../core/media-limits';
import { isChunkedSegmentation } from '../core/model';

import { parseJob as parseSegmentMediaInput } from '../core/parse';

export { parseSegmentMediaInput };
import {
  type SegmentMediaPorts,
  type SegmentMediaSettings,
  longSegmentWarning,
  withInput,
  storeSegments,
  checkComplete,
  cutShort,
  finishSegmentation,
  round2,
} from '../pipeline/segments';

export async function segmentMedia(
  job: Job,
  ports: SegmentMediaPorts,
  settings: SegmentMediaSettings,
): Promise<SegmentationResult | ChunkedSegmentation> {
  // Decided by ValidateInput (a hand-made job without one gets the same decision here).
  const plan = job.plan ?? planEncoding(job);
  if (isChunked(plan)) return startTranscode(job, plan, ports, settings);
  const format = FORMAT_OF[supportedExtension(job.source.key)];
  let timing: SegmentTiming | undefined;
  // Kept as they are stored: a truncation found midway says where the media ended.
  const segments: SegmentRecord[] = [];
  try {
    await withInput(job, ports, settings.scratchDir, async (input, outDir) => {
      // Each segment goes to the work bucket as soon as ffmpeg has finished it, and leaves scratch
      // space at once (moved, where the bucket is on the same disk): ffmpeg goes on meanwhile (and
      // waits if uploads fall behind).
      const request = {
        input,
        format,
        plan,
        segmentSeconds: job.options.segmentSeconds,
        outDir,
        durationSeconds: job.media.durationSeconds,
      };
      const stream = await ports.media.segment(request);
      await storeSegments(stream, job, ports, segments);
      timing = stream.timing?.();
    });
  } catch (error) {
    if (error instanceof TruncatedInput) throw cutShort(job, segments);
    throw error;
  }
  checkComplete(job, segments);
  const warning = longSegmentWarning(
    plan,
    segments.map((s) => s.duration),
    job.options.segmentSeconds,
  );
  return finishSegmentation(job, plan, segments, ports, settings, {
    ...(warning && { warnings: [warning] }),
    ...(timing && { ffmpeg: { seconds: round2(timing.seconds), pausedSeconds: round2(timing.pausedSeconds) } }),
  });
}

/**
 * A transcode's first part: chunks planned, the audio encoded once and cut at the chunks' starts
 * (each chunk's part into the work bucket), and the plan every EncodeChunk task reads.
 */
async function startTranscode(
  job: Job,
  plan: EncodingPlan,
  ports: SegmentMediaPorts,
  settings: SegmentMediaSettings,
): Promise<ChunkedSegmentation> {
  const { videoId, revision } = job;
  // Each chunk is a Lambda invocation: no more at once than the account can run beside its other work.
  const account = await retryTransient(() => ports.code.quota(), { ...CONTROL_PLANE_RETRY, ...settings.retry });
  const limits = encodeLimitsOf(settings);
  const fit = chunkConcurrencyFor(limits.concurrency, account.unreservedConcurrency);
  const timeOffset = timelineOffset(job.media.video?.frameRate);
  const sourceStart = job.media.startSeconds ?? 0;
  // A ladder whose top rung is the source copied: that rung first, in one run; the others are cut where it is.
  const cuts = await copyTopRung(job, plan, ports, settings, { timeOffset, sourceStart });
  const chunking = planChunks(job, plan, { ...limits, concurrency: fit.concurrency }, cuts);
  let audioChunks = 0;
  let timing: SegmentTiming | undefined;
  if (plan.audio !== 'none') {
    await withInput(job, ports, settings.scratchDir, async (input, outDir) => {
      const stream = await ports.media.splitAudio({
        input,
        format: FORMAT_OF[supportedExtension(job.source.key)],
        plan,
        cuts: chunking.chunks.slice(1).map((c) => c.start),
        durationSeconds: job.media.durationSeconds,
        outDir,
        timeOffset,
        sourceStart,
      });
      // A ladder's cellular rung's own sound comes beside the shared one, cut at the same times.
      for await (const part of stream) {
        await ports.objects.moveFile('work', keys.chunkAudio(videoId, revision, part.index, part.rendition), part.path, 'video/mp2t');
        if (part.rendition === undefined) audioChunks = Math.max(audioChunks, part.index + 1);
      }
      timing = stream.timing?.();
    });
  }
  const document: ChunkDocument = {
    videoId,
    revision,
    source: { key: job.source.key, extension: job.source.extension },
    plan,
    segmentSeconds: job.options.segmentSeconds,
    timeOffset,
    sourceStart,
    audioChunks,
    chunks: chunking.chunks,
    ...(cuts && { cuts }),
  };
  await ports.objects.put('work', keys.chunks(videoId, revision), JSON.stringify(document), 'application/json');
  return {
    chunks: chunking.chunks.map((c) => c.chunk),
    chunkConcurrency: chunking.concurrency,
    plannedSegments: chunking.segmentCount,
    plan,
    chunking: fit.note ? `${describeChunking(chunking)} (${fit.note})` : describeChunking(chunking),
    ...(timing && { ffmpeg: { seconds: round2(timing.seconds), pausedSeconds: round2(timing.pausedSeconds) } }),
  };
}

/**
 * A ladder's copied top rung: the source's picture (and sound) cut at its own keyframes in one run,
 * on the encoded rungs' timeline, its segments stored as that rung's and listed at keys.copiedRung
 * for JoinChunks. Returns where its segments start (the first at 0), where the other rungs are cut;
 * undefined when the ladder copies nothing.
 */
async function copyTopRung(
  job: Job,
  plan: EncodingPlan,
  ports: SegmentMediaPorts,
  settings: SegmentMediaSettings,
  timeline: Timeline,
): Promise<number[] | undefined> {
  const top = plan.video === 'ladder' ? plan.rungs[0] : undefined;
  if (!top?.copy) return undefined;
  const records: SegmentRecord[] = [];
  let seconds = 0;
  try {
    await withInput(job, ports, settings.scratchDir, async (input, outDir) => {
      const stream = await ports.media.segment({
        input,
        format: FORMAT_OF[supportedExtension(job.source.key)],
        plan,
        segmentSeconds: job.options.segmentSeconds,
        outDir,
        durationSeconds: job.media.durationSeconds,
        timeline,
      });
      await storeSegments(stream, job, ports, records, top.name);
      seconds = stream.timing?.().seconds ?? 0;
    });
  } catch (error) {
    if (error instanceof TruncatedInput) throw cutShort(job, records);
    throw error;
  }
  checkComplete(job, records);
  const copied: ChunkManifest = { chunk: 0, segments: records.length, seconds: round2(seconds), records };
  await ports.objects.put('work', keys.copiedRung(job.videoId, job.revision), JSON.stringify(copied), 'application/json');
  return records.map((r, i) => (i === 0 ? 0 : r.start));
}

/** segmentMedia's entry in the step table. */
export const segmentMediaStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'media', 'code'],
  variables: [...ENCODE_VARIABLES, 'LAMBDA_HLS_PACKAGE_TIMEOUT_SECONDS', 'LAMBDA_HLS_CODE_HEADROOM_PERCENT'],
  // Presigned GET for ffmpeg, segments and the manifest into the work bucket, the quota check.
  // Segments over 5 MB go up in parts: when a part fails, lib-storage aborts the upload, and without
  // AbortMultipartUpload that abort's AccessDenied would replace the transient error the ASL retries.
  access: {
    objects: { input: ['get', 'list'], work: ['put', 'abort upload', 'list'], 'work/quota': ['get'] },
    accountSettings: true,
  },
  parse: parseSegmentMediaInput,
  run: segmentMedia,
  // A transcode's SegmentMedia plans chunks (and encodes the audio); JoinChunks then segments as a copy's does.
  progress: (result) =>
    isChunkedSegmentation(result)
      ? {
          plannedChunks: result.chunks.length,
          notes: [result.chunking, ...(result.ffmpeg ? [`audio: ${describeFfmpegRun(result.ffmpeg)}`] : [])],
        }
      : segmentationProgress(result),
});
