// JoinChunks: after the EncodeChunks Map, the chunks' segments become one list, checked as
// SegmentMedia checks a single run's (every segment there once, in order; the media as long as the
// header says), then packed as SegmentMedia packs them. Its result is SegmentMedia's shape, so
// PackageSegments onward do not know the picture was encoded in parts.
import { parseChunkDocument, parseChunkManifest } from '../../src/core/documents';
import { SegmentationFailed } from '../../src/core/errors';
import type { Job, SegmentationResult, SegmentRecord } from '../../src/core/model';
import { keys } from '../../src/core/naming';
import { continuation, firstCounters, lastCounters, shiftCounters } from '../../src/core/ts-continuity';
import { crc32 } from '../../src/core/zip';
import type { Ports } from '../../src/ports';
import { readDocument } from '../../src/read-document';
import { checkComplete, finishSegmentation, type SegmentMediaSettings } from '../segment-media/step';

export { parseJoinChunksInput } from '../../src/core/model';

export type JoinChunksPorts = Pick<Ports, 'objects' | 'code'>;

/**
 * A chunk's segments rewritten so their continuity counters carry on from `ended` (each chunk was
 * muxed by a run of its own, which starts every PID at 0): the same bytes but those counters, so
 * the segments played in a row are one transport stream (Apple HLS authoring 7.2). Their CRC-32s
 * change with them.
 */
async function continueCounters(records: SegmentRecord[], ended: Map<number, number>, ports: JoinChunksPorts): Promise<SegmentRecord[]> {
  const first = records[0];
  if (!first) return records;
  const shifts = continuation(ended, firstCounters(await ports.objects.get('work', first.key)));
  if (shifts.size === 0) return records;
  const rewritten: SegmentRecord[] = [];
  for (const record of records) {
    const bytes = await ports.objects.get('work', record.key);
    shiftCounters(bytes, shifts);
    await ports.objects.put('work', record.key, bytes, 'video/mp2t');
    rewritten.push({ ...record, crc32: crc32(bytes) });
  }
  return rewritten;
}

export async function joinChunks(
  job: Job,
  ports: JoinChunksPorts,
  settings: Pick<SegmentMediaSettings, 'maxPackageBytes' | 'packageBytes' | 'batchLimits' | 'packageTimeoutSeconds' | 'retry'>,
): Promise<SegmentationResult> {
  const { videoId, revision } = job;
  const document = await readDocument(ports.objects, 'work', keys.chunks(videoId, revision), parseChunkDocument);
  const segments: SegmentRecord[] = [];
  const seconds: number[] = [];
  // The continuity counters each PID ended with in the chunk before (undefined before the first).
  let ended: Map<number, number> | undefined;
  for (const chunk of document.chunks) {
    const made = await readDocument(ports.objects, 'work', keys.chunkManifest(videoId, revision, chunk.chunk), parseChunkManifest);
    seconds.push(made.seconds);
    made.records.forEach((record, i) => {
      const due = segments.length + i;
      if (record.index !== due) {
        throw new SegmentationFailed(
          `chunk ${chunk.chunk} made segment ${record.index} where segment ${due} was due: the chunks do not join up`,
        );
      }
    });
    const records = ended ? await continueCounters(made.records, ended, ports) : made.records;
    segments.push(...records);
    const last = records.at(-1);
    if (last) ended = lastCounters(await ports.objects.get('work', last.key));
  }
  checkComplete(job, segments);
  const result = await finishSegmentation(job, document.encoding, segments, ports, settings, {
    chunks: { count: document.chunks.length, seconds },
  });
  // The audio parts are in the segments now.
  for (let chunk = 0; chunk < document.audioChunks; chunk++) await ports.objects.delete('work', keys.chunkAudio(videoId, revision, chunk));
  return result;
}
