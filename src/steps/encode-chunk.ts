// EncodeChunk: one iteration of the EncodeChunks Map. Encodes the frames of its chunk — read from
// the keyframe before its start, so over HTTP only its part of the input — with the audio
// SegmentMedia encoded once for it, into its segments in the work bucket and a list of them
// (keys.chunkManifest) for JoinChunks. A retry writes the same keys again.
import { parseChunkDocument } from '../core/documents';
import { InvalidRequest } from '../core/errors';
import type { ChunkManifest, ChunkResult, EncodeChunkInput } from '../core/model';
import { FORMAT_OF, keys, supportedExtension } from '../core/naming';
import type { Ports } from '../ports';
import { readDocument } from '../read-document';
import { round2, storeSegments, withInput } from '../pipeline/segments';
import { entry } from './entry';
import { hasLowAudio, LOW_AUDIO } from '../core/ladder';

import { parseEncodeChunkInput } from '../core/parse';

export { parseEncodeChunkInput };

export type EncodeChunkPorts = Pick<Ports, 'objects' | 'media'>;

export interface EncodeChunkSettings {
  /** A folder for scratch files; unset, the system's temporary folder (/tmp in Lambda). */
  scratchDir?: string | undefined;
}

export async function encodeChunk(input: EncodeChunkInput, ports: EncodeChunkPorts, settings: EncodeChunkSettings): Promise<ChunkResult> {
  const { videoId, revision, chunk } = input;
  const document = await readDocument(ports.objects, 'work', keys.chunks(videoId, revision), parseChunkDocument);
  const part = document.chunks[chunk];
  if (!part) throw new InvalidRequest(`chunk ${chunk} is not in the plan (${document.chunks.length} chunks)`);
  const job = { videoId, revision, source: document.source };
  let seconds = 0;
  const records = await withInput(job, ports, settings.scratchDir, async (location, outDir) => {
    const sound = (name?: string) =>
      chunk < document.audioChunks ? ports.objects.readableLocation('work', keys.chunkAudio(videoId, revision, chunk, name)) : undefined;
    const audio = await sound();
    const lowAudio = hasLowAudio(document.plan) ? await sound(LOW_AUDIO) : undefined;
    const stream = await ports.media.encodeChunk({
      input: location,
      format: FORMAT_OF[supportedExtension(document.source.key)],
      plan: document.plan,
      segmentSeconds: document.segmentSeconds,
      firstSegment: part.firstSegment,
      segmentCount: part.segmentCount,
      start: part.start,
      end: part.end,
      cuts: document.cuts?.slice(part.firstSegment, part.firstSegment + part.segmentCount),
      audio,
      lowAudio,
      outDir,
      timeOffset: document.timeOffset,
      sourceStart: document.sourceStart,
    });
    const stored = await storeSegments(stream, job, ports);
    seconds = stream.timing?.().seconds ?? 0;
    return stored;
  });
  const result: ChunkResult = { chunk, segments: records.length, seconds: round2(seconds) };
  const manifest: ChunkManifest = { ...result, records };
  await ports.objects.put('work', keys.chunkManifest(videoId, revision, chunk), JSON.stringify(manifest), 'application/json');
  return result;
}

/** encodeChunk's entry in the step table. */
export const encodeChunkStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'media'],
  variables: [],
  // The plan and the chunk's audio in, its segments and their list out; presigned GET of the input.
  access: { objects: { input: ['get', 'list'], work: ['get', 'put', 'abort upload', 'list'] } },
  parse: parseEncodeChunkInput,
  run: encodeChunk,
  progress: (result) => ({ chunkSeconds: result.seconds }),
});
