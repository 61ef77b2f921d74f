// JoinChunks: after the EncodeChunks Map, the chunks' segments become one list, checked as
// SegmentMedia checks a single run's (every segment there once, in order; the media as long as the
// header says), then packed as SegmentMedia packs them. Its result is SegmentMedia's shape, so
// PackageSegments onward do not know the picture was encoded in parts.
import { parseChunkDocument, parseChunkManifest } from '../../src/core/documents';
import { SegmentationFailed } from '../../src/core/errors';
import type { Job, SegmentationResult, SegmentRecord } from '../../src/core/model';
import { keys } from '../../src/core/naming';
import type { Ports } from '../../src/ports';
import { readDocument } from '../../src/read-document';
import { checkComplete, finishSegmentation, type SegmentMediaSettings } from '../segment-media/step';

export { parseJoinChunksInput } from '../../src/core/model';

export type JoinChunksPorts = Pick<Ports, 'objects' | 'code'>;

export async function joinChunks(
  job: Job,
  ports: JoinChunksPorts,
  settings: Pick<SegmentMediaSettings, 'maxPackageBytes' | 'packageBytes' | 'batchLimits' | 'packageTimeoutSeconds' | 'retry'>,
): Promise<SegmentationResult> {
  const { videoId, revision } = job;
  const document = await readDocument(ports.objects, 'work', keys.chunks(videoId, revision), parseChunkDocument);
  const segments: SegmentRecord[] = [];
  const seconds: number[] = [];
  for (const chunk of document.chunks) {
    const made = await readDocument(ports.objects, 'work', keys.chunkManifest(videoId, revision, chunk.chunk), parseChunkManifest);
    seconds.push(made.seconds);
    for (const record of made.records) {
      if (record.index !== segments.length) {
        throw new SegmentationFailed(
          `chunk ${chunk.chunk} made segment ${record.index} where segment ${segments.length} was due: the chunks do not join up`,
        );
      }
      segments.push(record);
    }
  }
  checkComplete(job, segments);
  const result = await finishSegmentation(job, document.encoding, segments, ports, settings, {
    chunks: { count: document.chunks.length, seconds },
  });
  // The audio parts are in the segments now.
  for (let chunk = 0; chunk < document.audioChunks; chunk++) await ports.objects.delete('work', keys.chunkAudio(videoId, revision, chunk));
  return result;
}
