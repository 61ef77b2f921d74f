// What SegmentMedia and JoinChunks (and EncodeChunk, for its segments) share: the input held in a
// scratch folder, segments stored in the work bucket with their checksums, a run checked complete
// against the input's duration, and the finishing — the last sliver merged, sizes checked, packages
// planned and reserved, the manifest and batch plans written.
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { segmentCodecs } from '../core/ts-codecs';
import { type Keyframe, keyframeScanner } from '../core/ts-keyframes';
import { forEachChunk } from '../file-chunks';
import { processTag } from '../process-identity';
import { CONTROL_PLANE_RETRY, retryTransient, type RetryOptions } from '../core/retry';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputNotFound, SegmentationFailed, SegmentTooLarge, TruncatedInput } from '../core/errors';
import type { EncodeSettings } from '../core/chunks';
import type { BatchDocument, EncodingPlan, Job, SegmentationResult, SegmentManifest, SegmentRecord } from '../core/model';
import { baseName, FORMAT_OF, keys, SCRATCH_PREFIX, supportedExtension } from '../core/naming';
import { batchLimitsFor, DEFAULT_PACKING, planBatches, planPackages, segmentEntryName, type BatchLimits } from '../core/packing';
import { crc32 } from '../core/zip';
import { formatBytes } from '../core/units';
import { reserveCodeStorage } from '../registry/quota';
import type { Ports, SegmentStream } from '../ports';

export type SegmentMediaPorts = Pick<Ports, 'objects' | 'media' | 'code'>;

export interface SegmentMediaSettings extends EncodeSettings {
  /** A folder for scratch files; unset, the system's temporary folder (/tmp in Lambda). */
  scratchDir?: string | undefined;
  /** Per-call retries of throttling and network faults (tests make them instant). */
  retry?: RetryOptions;
  /** Largest segment a package may hold. */
  maxPackageBytes: number;
  /** Zip bytes consecutive segments are packed up to. */
  packageBytes: number;
  /** Packages per Map iteration (tests make them small); unset, sized from packageTimeoutSeconds. */
  batchLimits?: BatchLimits;
  /** The packageBatch function's timeout, as the stack sets it; unset locally. */
  packageTimeoutSeconds?: number | undefined;
  /** Per cent of the code storage quota left to the account's other functions (LAMBDA_HLS_CODE_HEADROOM_PERCENT). */
  codeHeadroomPercent?: number;
}

/**
 * How far short of its header's duration an MP4's media may end before it counts as cut short:
 * 2 s, or 5 % of a long file. Legitimate files differ by a frame or an audio packet; a track ffmpeg
 * drops (data, timecode) may add a little. A file whose index lists media past its end is cut
 * short whatever the amount (ffmpeg says "partial file").
 */
export function truncationTolerance(declaredSeconds: number): number {
  return Math.max(2, declaredSeconds * 0.05);
}

/**
 * Copying cuts only at the source's keyframes: when that makes segments half as long again as
 * asked (a long-GOP source), say so, with the real length and the option that honours it.
 */
export function longSegmentWarning(plan: EncodingPlan, durations: readonly number[], segmentSeconds: number): string | undefined {
  // A copy, or a ladder whose top rung is one (its other rungs are cut where it is).
  if (plan.video !== 'copy' && !(plan.video === 'ladder' && plan.rungs[0]?.copy)) return undefined;
  const longest = Math.max(0, ...durations);
  if (longest <= segmentSeconds * 1.5) return undefined;
  return `segments are up to ${longest.toFixed(1)} s long, not the ${segmentSeconds} s asked: copying cuts only at the source's keyframes; --transcode (options.transcode) cuts every ${segmentSeconds} s`;
}

/** A segment file's CRC-32, and (a ladder's rung) where its keyframes are, in one read. */
async function readSegment(path: string, withKeyframes: boolean): Promise<{ crc: number; keyframes?: Keyframe[] }> {
  let crc = 0;
  const scanner = withKeyframes ? keyframeScanner() : undefined;
  await forEachChunk(path, (chunk) => {
    crc = crc32(chunk, crc);
    scanner?.push(chunk);
  });
  return { crc, ...(scanner && { keyframes: scanner.keyframes() }) };
}

/** A step's scratch folder, named by this process (pid and start), so gc can tell a killed run's folder from a running one's. */
async function scratchFolder(videoId: string, scratchDir: string | undefined): Promise<string> {
  const dir = scratchDir ?? tmpdir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return mkdtemp(join(dir, `${SCRATCH_PREFIX}${videoId}-${processTag()}-`));
}

/**
 * Runs `work` on the input with a scratch folder of its own (removed after), and says so when the
 * input was deleted from the input bucket meanwhile rather than blame the file.
 */
export async function withInput<T>(
  job: { videoId: string; source: { key: string } },
  ports: Pick<Ports, 'objects'>,
  scratchDir: string | undefined,
  work: (input: string, outDir: string) => Promise<T>,
): Promise<T> {
  const gone = () =>
    new InputNotFound(`${JSON.stringify(baseName(job.source.key))} was deleted from the input bucket while it was being converted`);
  const outDir = await scratchFolder(job.videoId, scratchDir);
  try {
    const input = await ports.objects.readableLocation('input', job.source.key).catch((error: unknown) => {
      throw error instanceof InputNotFound ? gone() : error;
    });
    return await work(input, outDir);
  } catch (error) {
    // ffmpeg fails when its input disappears under it.
    if (error instanceof SegmentationFailed && !(await ports.objects.head('input', job.source.key))) throw gone();
    throw error;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** Takes each segment as ffmpeg finishes it: its CRC-32 while it is fresh in the page cache, then into the work bucket. */
export async function storeSegments(
  stream: SegmentStream,
  job: { videoId: string; revision: string },
  ports: Pick<Ports, 'objects'>,
  records: SegmentRecord[] = [],
  /** The rung every segment of the stream belongs to, where the stream does not say (a ladder's copied top rung). */
  rung?: string,
): Promise<SegmentRecord[]> {
  for await (const made of stream) {
    const file = rung === undefined ? made : { ...made, rendition: rung };
    const key = keys.segment(job.videoId, job.revision, file.index, file.rendition);
    // A ladder's rungs have I-frame playlists: each keyframe's range is read with the CRC-32.
    const { crc, keyframes } = await readSegment(file.path, file.rendition !== undefined);
    // A ladder's variants declare their CODECS: read from the first segment of each rung.
    const codecs = file.rendition !== undefined && file.index === 0 ? segmentCodecs(await headOf(file.path)) : undefined;
    await ports.objects.moveFile('work', key, file.path, 'video/mp2t');
    records.push({
      index: file.index,
      ...(file.rendition !== undefined && { rendition: file.rendition }),
      key,
      bytes: file.bytes,
      crc32: crc,
      start: file.start,
      duration: file.duration,
      ...(codecs && { codecs }),
      ...(keyframes && { keyframes: keyframes.map((k) => [k.offset, k.length, Math.round(k.pts * 1e6) / 1e6]) }),
    });
  }
  return records;
}

/**
 * A segment's first 8 MB (whole packets): its parameter sets and its first sound, which the
 * muxer's delay puts ~0.7 s in (at 8 Mbit/s, 700 KB after the first picture).
 */
async function headOf(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(188 * 44_620);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead - (bytesRead % 188));
  } finally {
    await handle.close();
  }
}

/** Where the segments' media ends, in seconds. */
function mediaEnd(segments: readonly SegmentRecord[]): number {
  return segments.reduce((end, s) => Math.max(end, s.start + s.duration), 0);
}

/** The input is cut short: where its media ends and what its header declares. */
export function cutShort(job: Job, segments: readonly SegmentRecord[]): TruncatedInput {
  return new TruncatedInput(
    `${JSON.stringify(baseName(job.source.key))} is cut short: its media ends at ${mediaEnd(segments).toFixed(1)} s of the ${job.media.durationSeconds.toFixed(1)} s its header declares (an upload that was interrupted, or a file still being written): upload the whole file again`,
  );
}

/** An MP4 whose media ends well before its header's duration was cut short (an MP3's duration is an estimate). */
export function checkComplete(job: Job, segments: readonly SegmentRecord[]): void {
  const declared = job.media.durationSeconds;
  if (FORMAT_OF[supportedExtension(job.source.key)] === 'mp4' && declared - mediaEnd(segments) > truncationTolerance(declared)) {
    throw cutShort(job, segments);
  }
}

/** A last segment shorter than this (or half a segment, if less) is a sliver: the end of the media just past a cut. */
export const SLIVER_SECONDS = 1;

/**
 * A last segment that is only a sliver (an mp3 ended 23 ms past its last cut: one AAC frame of
 * 1,316 bytes) joins the one before: one run's segments are one transport stream (continuity
 * counters go on, the sliver starts with PAT/PMT), so their bytes in a row are a valid segment.
 */
async function mergeSliver(
  segments: SegmentRecord[],
  ports: Pick<Ports, 'objects'>,
  segmentSeconds: number,
  /** Decided already (by a ladder's top rung, for every rung alike): merged whatever the last's length. */
  decided?: boolean,
): Promise<void> {
  const last = segments.at(-1);
  const before = segments.at(-2);
  if (!last || !before) return;
  if (!(decided ?? last.duration < Math.min(SLIVER_SECONDS, segmentSeconds / 2))) return;
  const joined = Buffer.concat([await ports.objects.get('work', before.key), await ports.objects.get('work', last.key)]);
  await ports.objects.put('work', before.key, joined, 'video/mp2t');
  await ports.objects.delete('work', last.key);
  // A ladder's keyframes of the sliver now sit after the segment before's bytes.
  const keyframes = before.keyframes && [...before.keyframes, ...(last.keyframes ?? []).map(([o, l, t]) => [o! + before.bytes, l!, t!])];
  segments.splice(-2, 2, {
    ...before,
    bytes: joined.length,
    crc32: crc32(joined),
    duration: before.duration + last.duration,
    ...(keyframes && { keyframes }),
  });
}

/**
 * Each rung's segments (one list without a ladder), the last sliver merged in each, checked to
 * cut at the same times in every rung (a player switches rungs at any boundary), and numbered
 * across the rungs, rung after rung — so packing, packages and offsets need not know of rungs; a
 * segment's `position` is its number within its rung.
 */
async function joinRungs(
  plan: EncodingPlan,
  segments: SegmentRecord[],
  ports: Pick<Ports, 'objects'>,
  segmentSeconds: number,
): Promise<SegmentRecord[][]> {
  if (plan.video !== 'ladder') {
    await mergeSliver(segments, ports, segmentSeconds);
    return [segments];
  }
  const rungs = plan.rungs.map((rung) => segments.filter((s) => s.rendition === rung.name));
  // The top rung decides for all: each rung's last segment holds the same frames, its measured length may differ by a frame.
  const last = rungs[0]?.at(-1);
  const sliver = last !== undefined && (rungs[0]?.length ?? 0) > 1 && last.duration < Math.min(SLIVER_SECONDS, segmentSeconds / 2);
  for (const rung of rungs) await mergeSliver(rung, ports, segmentSeconds, sliver);
  const [top, ...others] = rungs;
  for (const [r, rung] of others.entries()) {
    // A copied top rung's first segment starts where its first frame shows, the encoded ones' at 0.
    const apart = rung.findIndex((s, i) => !top![i] || (i > 0 && Math.abs(s.start - top![i]!.start) > 0.001));
    if (rung.length !== top!.length || apart !== -1) {
      throw new SegmentationFailed(
        `the ${plan.rungs[r + 1]!.name} rung has ${rung.length} segments and the ${plan.rungs[0]!.name} rung ${top!.length}${apart === -1 ? '' : `, apart from segment ${apart}`}: the rungs are not cut at the same times`,
      );
    }
  }
  // Each segment holds the same frames in every rung: its time is the top rung's (the EXTINF every rung declares).
  let index = 0;
  return rungs.map((rung) =>
    rung.map((s, i) => ({ ...s, index: index++, position: s.index, start: top![i]!.start, duration: top![i]!.duration })),
  );
}

/**
 * The segments are all in the work bucket: checked against the package limits and the free code
 * storage (before any function is created), packed, and the manifest and each batch's plan written.
 */
export async function finishSegmentation(
  job: Job,
  plan: EncodingPlan,
  segments: SegmentRecord[],
  ports: Pick<Ports, 'objects' | 'code'>,
  settings: Pick<
    SegmentMediaSettings,
    'maxPackageBytes' | 'packageBytes' | 'batchLimits' | 'packageTimeoutSeconds' | 'retry' | 'codeHeadroomPercent'
  >,
  extra: Pick<SegmentationResult, 'warnings' | 'ffmpeg' | 'chunks'>,
): Promise<SegmentationResult> {
  const { videoId, revision } = job;
  const rungs = await joinRungs(plan, segments, ports, job.options.segmentSeconds);
  segments = rungs.flat();
  const manifest: SegmentManifest = { videoId, revision, plan, segments };
  // Limits before money: both checks run before any function is created.
  checkSegmentSizes(manifest, settings.maxPackageBytes, job.options.segmentSeconds);
  const packages = planPackages(manifest.segments, { ...DEFAULT_PACKING, maxBytes: settings.packageBytes });
  // Retried here: a throttled read would otherwise repeat the whole segmenting.
  const limits = await retryTransient(() => ports.code.quota(), { ...CONTROL_PLANE_RETRY, ...settings.retry });
  await reserveCodeStorage(ports.objects, {
    run: `${videoId}/${revision}`,
    bytes: packages.reduce((sum, p) => sum + p.bytes, 0),
    limits,
    headroom: (settings.codeHeadroomPercent ?? 10) / 100,
    now: Date.now(),
  });

  const manifestKey = keys.manifest(videoId, revision);
  await ports.objects.put('work', manifestKey, JSON.stringify(manifest), 'application/json');
  // Each batch's plan is its own small object: an iteration reads only what it packs.
  // Sized so that no batch can run out of PackageBatch's time creating its functions.
  const batches = planBatches(packages, settings.batchLimits ?? batchLimitsFor(settings.packageTimeoutSeconds));
  for (const batch of batches) {
    const document: BatchDocument = {
      videoId,
      revision,
      batch: batch.batch,
      packages: packages.slice(batch.firstPackage, batch.firstPackage + batch.packageCount).map((p) => ({
        package: p.package,
        bytes: p.bytes,
        entries: manifest.segments.slice(p.first, p.first + p.count).map((s) => ({
          index: s.index,
          name: segmentEntryName(s.index),
          key: s.key,
          bytes: s.bytes,
          crc32: s.crc32,
        })),
      })),
    };
    await ports.objects.put('work', keys.batch(videoId, revision, batch.batch), JSON.stringify(document), 'application/json');
  }
  return {
    manifestKey,
    segmentCount: manifest.segments.length,
    packageCount: packages.length,
    durationSeconds: rungs[0]!.reduce((sum, s) => sum + s.duration, 0),
    plan,
    ...(extra.warnings?.length && { warnings: extra.warnings }),
    batches: batches.map((b) => b.batch),
    ...(extra.ffmpeg && { ffmpeg: extra.ffmpeg }),
    ...(extra.chunks && { chunks: extra.chunks }),
  };
}

export function round2(value: number): number {
  return Math.round(value * 100) / 100;
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
