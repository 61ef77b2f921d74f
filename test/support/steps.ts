// Running the steps on in-memory ports, as the state machine would chain them.
import { computeOffsets } from '../../src/steps/compute-offsets';
import { packageBatch } from '../../src/steps/package-batch';
import { segmentMedia } from '../../src/steps/segment-media';
import { validateInput } from '../../src/steps/validate-input';
import { writePlaylist } from '../../src/steps/write-playlist';
import { readSettings } from '../../src/composition/settings';
import type { StepSettings } from '../../src/composition/steps';
import { encodeChunk } from '../../src/steps/encode-chunk';
import { joinChunks } from '../../src/steps/join-chunks';
import type { ConversionRequest } from '../../src/core/parse';
import { isChunkedSegmentation, type Job, type ProbeResult, type SegmentationResult } from '../../src/core/model';
import type { Ports } from '../../src/ports';
import { tempDir } from './fixtures';
import { memoryPorts, ScriptedMediaTool } from './memory';

/** Default settings, instant in-step retries and a scratch folder of its own. */
export function stepSettings(overrides: Partial<StepSettings> = {}): StepSettings & { scratchDir: string } {
  return { ...readSettings({}), retry: { baseMs: 0 }, ...overrides, scratchDir: overrides.scratchDir ?? tempDir('scratch') };
}

export const MP4: ProbeResult = {
  formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
  durationSeconds: 30,
  video: { codec: 'h264', width: 320, height: 180, frameRate: 25 },
  audio: { codec: 'aac', channels: 2, sampleRate: 48000 },
};

/** Ten-second segments of these sizes. */
export function segmentsOf(...bytes: number[]) {
  return bytes.map((b) => ({ bytes: b, duration: 10 }));
}

/** Memory ports whose media tool probes as `probe` and cuts `segments`, with `key` uploaded. */
export async function uploadedClip(
  options: { key?: string; probe?: ProbeResult; segments?: { bytes: number; duration: number }[]; bytes?: number } = {},
) {
  const key = options.key ?? 'clip.mp4';
  const segments = options.segments ?? segmentsOf(1000, 2000, 1500);
  // The header declares what the segments hold, as a whole file's does.
  const declared = segments.reduce((sum, s) => sum + s.duration, 0);
  const media = new ScriptedMediaTool({ probe: options.probe ?? { ...MP4, durationSeconds: declared }, segments });
  const ports = memoryPorts({ media });
  await ports.objects.put('input', key, Buffer.alloc(options.bytes ?? 4096, 1));
  return {
    ports,
    media,
    key,
    request: {
      source: { key },
      revision: 'abcd1234',
      options: { segmentSeconds: 10, profile: 'source' as const, ladder: 'source' as const },
    } as ConversionRequest,
  };
}

/** SegmentMedia as the state machine runs it: for a transcode, then each chunk's EncodeChunk and JoinChunks. */
export async function segmentInMemory(job: Job, ports: Ports, settings: StepSettings): Promise<SegmentationResult> {
  const result = await segmentMedia(job, ports, settings);
  if (!isChunkedSegmentation(result)) return result;
  for (const chunk of result.chunks) await encodeChunk({ videoId: job.videoId, revision: job.revision, chunk }, ports, settings);
  return joinChunks(job, ports, settings);
}

/** ValidateInput through WritePlaylist, each step's result kept. */
export async function convertInMemory(clip: Awaited<ReturnType<typeof uploadedClip>>, settings = stepSettings()) {
  const { ports, request } = clip;
  const job = await validateInput(request, ports, settings);
  const segmented = await segmentInMemory(job, ports, settings);
  const batches = [];
  for (const batch of segmented.batches)
    batches.push(await packageBatch({ videoId: job.videoId, revision: job.revision, batch }, ports, settings));
  const offsets = await computeOffsets({ job, manifestKey: segmented.manifestKey, batches: segmented.batches }, ports, settings);
  const playlist = await writePlaylist({ job, offsetsKey: offsets.offsetsKey }, ports);
  return { job, segmented, batches, offsets, playlist };
}
