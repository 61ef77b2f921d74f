// JoinChunks: after the EncodeChunks Map, the chunks' segments become one list, checked as
// SegmentMedia checks a single run's (every segment there once, in order; the media as long as the
// header says), then packed as SegmentMedia packs them. Its result is SegmentMedia's shape, so
// PackageSegments onward do not know the picture was encoded in parts.
import { parseChunkDocument, parseChunkManifest } from '../core/documents';
import { SegmentationFailed } from '../core/errors';
import type { Job, SegmentationResult, SegmentRecord } from '../core/model';
import { keys } from '../core/naming';
import { continuation, firstCounters, lastCounters, shiftCounters } from '../core/ts-continuity';
import { crc32 } from '../core/zip';
import type { Ports } from '../ports';
import { readDocument } from '../read-document';
import { checkComplete, finishSegmentation, longSegmentWarning, type SegmentMediaSettings } from '../pipeline/segments';
import { entry, segmentationProgress } from './entry';
import { hasLowAudio, LOW_AUDIO } from '../core/ladder';

import { parseJoinChunksInput } from '../core/parse';

export { parseJoinChunksInput };

export type JoinChunksPorts = Pick<Ports, 'objects' | 'code'>;

/**
 * A chunk's segments rewritten so their continuity counters carry on from `ended` (each chunk was
 * muxed by a run of its own, which starts every PID at 0): the same bytes but those counters, so
 * the segments played in a row are one transport stream (Apple HLS authoring 7.2); their CRC-32s
 * change with them. Each segment is read once at most (the first chunk's only its last, for the
 * counters it ends with, which the next chunk continues).
 */
async function continueCounters(
  records: readonly SegmentRecord[],
  ended: Map<number, number> | undefined,
  ports: JoinChunksPorts,
): Promise<{ records: SegmentRecord[]; ended: Map<number, number> | undefined }> {
  // Undefined until the chunk's first segment is read; none to make for the first chunk.
  let shifts: Map<number, number> | undefined = ended ? undefined : new Map();
  let endsWith = ended;
  const continued: SegmentRecord[] = [];
  for (const [i, record] of records.entries()) {
    const last = i === records.length - 1;
    if (shifts?.size === 0 && !last) {
      continued.push(record);
      continue;
    }
    const bytes = await ports.objects.get('work', record.key);
    shifts ??= continuation(ended!, firstCounters(bytes));
    if (shifts.size > 0) {
      shiftCounters(bytes, shifts);
      await ports.objects.put('work', record.key, bytes, 'video/mp2t');
      continued.push({ ...record, crc32: crc32(bytes) });
    } else continued.push(record);
    if (last) endsWith = lastCounters(bytes);
  }
  return { records: continued, ended: endsWith };
}

export async function joinChunks(
  job: Job,
  ports: JoinChunksPorts,
  settings: Pick<
    SegmentMediaSettings,
    'maxPackageBytes' | 'packageBytes' | 'batchLimits' | 'packageTimeoutSeconds' | 'retry' | 'codeHeadroomPercent'
  >,
): Promise<SegmentationResult> {
  const { videoId, revision } = job;
  const document = await readDocument(ports.objects, 'work', keys.chunks(videoId, revision), parseChunkDocument);
  const segments: SegmentRecord[] = [];
  const seconds: number[] = [];
  const made = [];
  for (const chunk of document.chunks) {
    const manifest = await readDocument(ports.objects, 'work', keys.chunkManifest(videoId, revision, chunk.chunk), parseChunkManifest);
    seconds.push(manifest.seconds);
    made.push(manifest);
  }
  // Each rung (one, without a ladder) is its own transport stream across the chunks, rung after rung;
  // a copied top rung is one already, made by SegmentMedia in one run.
  const ladder = document.plan.video === 'ladder' ? document.plan.rungs : [];
  if (ladder[0]?.copy) {
    const copied = await readDocument(ports.objects, 'work', keys.copiedRung(videoId, revision), parseChunkManifest);
    segments.push(...copied.records);
  }
  const rungs = document.plan.video === 'ladder' ? ladder.filter((r) => !r.copy).map((r) => r.name) : [undefined];
  for (const rung of rungs) {
    const named = rung === undefined ? '' : ` of ${rung}`;
    let count = 0;
    // The continuity counters each PID ended with in the chunk before (undefined before the first).
    let ended: Map<number, number> | undefined;
    for (const [c, manifest] of made.entries()) {
      const records = manifest.records.filter((r) => r.rendition === rung);
      records.forEach((record, i) => {
        const due = count + i;
        if (record.index !== due) {
          throw new SegmentationFailed(
            `chunk ${c} made segment ${record.index}${named} where segment ${due} was due: the chunks do not join up`,
          );
        }
      });
      const joined = await continueCounters(records, ended, ports);
      segments.push(...joined.records);
      count += records.length;
      ended = joined.ended;
    }
  }
  checkComplete(job, segments);
  // A copied top rung is cut at the source's keyframes: said when that makes its segments long.
  const top = segments.filter((s) => s.rendition === ladder[0]?.name);
  const warning = longSegmentWarning(
    document.plan,
    top.map((s) => s.duration),
    job.options.segmentSeconds,
  );
  const result = await finishSegmentation(job, document.plan, segments, ports, settings, {
    chunks: { count: document.chunks.length, seconds },
    ...(warning && { warnings: [warning] }),
  });
  // The audio parts are in the segments now.
  const sounds = hasLowAudio(document.plan) ? [undefined, LOW_AUDIO] : [undefined];
  for (let chunk = 0; chunk < document.audioChunks; chunk++)
    for (const sound of sounds) await ports.objects.delete('work', keys.chunkAudio(videoId, revision, chunk, sound));
  return result;
}

/** joinChunks's entry in the step table. */
export const joinChunksStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'code'],
  variables: ['LAMBDA_HLS_PACKAGE_TIMEOUT_SECONDS', 'LAMBDA_HLS_CODE_HEADROOM_PERCENT'],
  // The chunks' lists in; the manifest and batch plans out, the audio parts deleted; the quota check.
  access: { objects: { work: ['get', 'put', 'delete', 'list'] }, accountSettings: true },
  parse: parseJoinChunksInput,
  run: joinChunks,
  progress: segmentationProgress,
});
