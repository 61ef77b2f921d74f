import { encodeLimitsOf, ENCODE_SAFETY, HISTORY_EVENT_LIMIT, PAYLOAD_LIMIT_BYTES, planChunks } from '../../src/core/chunks';
import type { Job, ProbeResult } from '../../src/core/model';
import { planEncoding } from '../../src/core/encoding';

/** As the stack configures them (serverless.yml: encodeChunk 900 s, 3,008 MB; param encodeConcurrency 10). */
const DEPLOYED = encodeLimitsOf({ encodeConcurrency: 10, encodeSpeedMegapixels: 45, encodeTimeoutSeconds: 900, encodeMemoryMb: 3008 });

/** A phone's 1080p60 HEVC recording, as ffprobe describes it. */
function phoneVideo(seconds: number, bytes = 10 * 1024 ** 3): Pick<Job, 'media' | 'options' | 'source'> {
  const media: ProbeResult = {
    formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationSeconds: seconds,
    video: { codec: 'hevc', width: 1920, height: 1080, frameRate: 60, profile: 'Main', pixelFormat: 'yuv420p' },
    audio: { codec: 'aac', channels: 2, sampleRate: 48000 },
  };
  return {
    media,
    options: { segmentSeconds: 10, profile: 'source', ladder: 'source' },
    source: { key: 'phone.mp4', bytes, extension: '.mp4', kind: 'video' },
  };
}

function plan(job: Pick<Job, 'media' | 'options' | 'source'>, limits = DEPLOYED) {
  return planChunks(job, planEncoding(job), limits);
}

describe('chunk planning', () => {
  it('plans a 3-hour 1080p60 HEVC input within every Step Functions limit, each chunk well inside the timeout', () => {
    const job = phoneVideo(3 * 3600);
    const chunking = plan(job);
    expect(planEncoding(job)).toMatchObject({ video: 'encode', rendition: 'source' });
    // Whole segments, consecutive, covering every segment once.
    expect(chunking.segmentCount).toBe(1080);
    let next = 0;
    for (const chunk of chunking.chunks) {
      expect(chunk.firstSegment).toBe(next);
      expect(chunk.start).toBe(next * 10);
      next += chunk.segmentCount;
      if (chunk.end !== undefined) expect(chunk.end).toBe(next * 10);
    }
    expect(next).toBe(1080);
    expect(chunking.chunks.at(-1)!.end).toBeUndefined();
    // Each chunk's estimate, even doubled, is inside the 900 s timeout.
    expect(chunking.estimate.chunkSeconds * ENCODE_SAFETY).toBeLessThanOrEqual(900);
    expect(chunking.estimate.chunkSeconds).toBeLessThan(900 / 2);
    // State payload: the Map's items are chunk numbers (SegmentMedia's whole result is far smaller than this).
    expect(JSON.stringify(chunking.chunks.map((c) => c.chunk)).length).toBeLessThan(PAYLOAD_LIMIT_BYTES / 20);
    // History, by AWS's counting: ~7 events per iteration of either Map, plus the states around them.
    expect(chunking.estimate.historyEvents).toBeLessThan(HISTORY_EVENT_LIMIT / 2);
    expect(chunking.concurrency).toBe(10);
  });

  it('spreads a short transcode over the concurrency, but not into chunks shorter than 30 s', () => {
    const tenMinutes = plan(phoneVideo(600, 1e9));
    expect(tenMinutes.chunks).toHaveLength(10);
    expect(tenMinutes.chunkSegments).toBe(6);
    expect(plan(phoneVideo(45, 1e8)).chunks).toHaveLength(2);
    expect(plan(phoneVideo(8, 1e7)).chunks).toEqual([{ chunk: 0, firstSegment: 0, segmentCount: 1, start: 0 }]);
  });

  it('refuses, before anything is made, a transcode that cannot fit even in chunks', () => {
    // One 60-s segment of 8K at 120 fps is past the timeout whatever the split.
    const eightK = phoneVideo(600, 1e9);
    eightK.media.video = { codec: 'hevc', width: 7680, height: 4320, frameRate: 120 };
    eightK.options = { segmentSeconds: 60, profile: 'source', ladder: 'source' };
    expect(() => plan(eightK)).toThrow(
      expect.objectContaining({ name: 'TranscodeTooLarge', message: expect.stringMatching(/one 60-s segment of 7680x4320 at 120 fps/) }),
    );
    // With one task at a time, 24 h of 1080p60 runs past the execution's limit.
    expect(() => plan(phoneVideo(24 * 3600), { ...DEPLOYED, concurrency: 1 })).toThrow(
      expect.objectContaining({ name: 'TranscodeTooLarge' }),
    );
  });

  it('finds the longest input the deployed configuration transcodes (the README states it)', () => {
    const longest = (bytes: number) => {
      let [low, high] = [60, 7 * 24 * 3600];
      while (high - low > 60) {
        const middle = Math.floor((low + high) / 2);
        try {
          plan(phoneVideo(middle, bytes));
          low = middle;
        } catch {
          high = middle;
        }
      }
      return low;
    };
    // A 10 GiB upload (the default largest input): bounded by SegmentMedia encoding its audio once.
    expect(longest(10 * 1024 ** 3) / 3600).toBeCloseTo(7.9, 1);
  });
});
