import { readdirSync } from 'node:fs';
import { longSegmentWarning } from '../../../src/pipeline/segments';
import { segmentMedia } from '../../../src/steps/segment-media';
import { validateInput } from '../../../src/steps/validate-input';
import { parseBatch, parseManifest } from '../../../src/core/documents';
import { keys } from '../../../src/core/naming';
import { crc32 } from '../../../src/core/zip';
import { readDocument } from '../../../src/read-document';
import { type MemoryCodeStore, ScriptedMediaTool } from '../../support/memory';
import { MP4, segmentInMemory, segmentsOf, stepSettings, uploadedClip } from '../../support/steps';
import { encodeChunk } from '../../../src/steps/encode-chunk';
import { joinChunks } from '../../../src/steps/join-chunks';

async function segmented(segments: { bytes: number; duration: number }[], settings = stepSettings()) {
  const clip = await uploadedClip({ segments });
  const job = await validateInput(clip.request, clip.ports, settings);
  return { ...clip, job, settings, run: () => segmentInMemory(job, clip.ports, settings) };
}

describe('SegmentMedia', () => {
  it('uploads every segment with its CRC-32, writes the manifest and leaves scratch empty', async () => {
    const { ports, job, settings, run } = await segmented(segmentsOf(1000, 2000, 1500));
    const result = await run();
    expect(result).toMatchObject({
      segmentCount: 3,
      packageCount: 1,
      durationSeconds: 30,
      batches: [0],
      plan: { video: 'copy', audio: 'copy' },
    });
    const manifest = await readDocument(ports.objects, 'work', result.manifestKey, parseManifest);
    expect(manifest.segments.map((s) => [s.index, s.bytes, s.start, s.duration])).toEqual([
      [0, 1000, 0, 10],
      [1, 2000, 10, 10],
      [2, 1500, 20, 10],
    ]);
    for (const s of manifest.segments) expect(s.crc32).toBe(crc32(await ports.objects.get('work', s.key)));
    expect(readdirSync(settings.scratchDir)).toEqual([]);
    expect(await ports.code.list('')).toEqual([]); // packaging is the next state's work
    expect(job.source.kind).toBe('video');
  });

  it('fills packages up to the package size and groups them into batches, each with its own plan', async () => {
    const settings = stepSettings({ packageBytes: 2500, batchLimits: { maxPackages: 2, maxBytes: 1e9 } });
    const { ports, job, run } = await segmented(segmentsOf(1000, 1000, 1000, 1000, 1000), settings);
    const result = await run();
    expect(result.packageCount).toBe(3); // two segments per package, then one
    expect(result.batches).toEqual([0, 1]);
    const second = await readDocument(ports.objects, 'work', keys.batch(job.videoId, job.revision, 1), parseBatch);
    expect(second.packages.map((p) => p.entries.map((e) => e.index))).toEqual([[4]]);
  });

  it('refuses a segment larger than a package may hold before anything is planned, suggesting shorter segments', async () => {
    const { ports, job, run } = await segmented(segmentsOf(1000, 9000), stepSettings({ maxPackageBytes: 5000 }));
    await expect(run()).rejects.toMatchObject({
      name: 'SegmentTooLarge',
      message: expect.stringMatching(
        /segment 1 is 8\.8 KiB .* at most 4\.9 KiB: use shorter segments \(e\.g\. --segment-seconds 2\) or .*--profile 360p/,
      ),
    });
    expect(await ports.objects.head('work', keys.manifest(job.videoId, job.revision))).toBeUndefined();
  });

  it('refuses an MP4 whose media ends well before the duration its header declares, naming both', async () => {
    const { ports, job, settings, media } = await segmented(segmentsOf(1000, 1000));
    const declared = { ...job, media: { ...job.media, durationSeconds: 32.5 } };
    await expect(segmentMedia(declared, ports, settings)).rejects.toMatchObject({
      name: 'TruncatedInput',
      message:
        '"clip.mp4" is cut short: its media ends at 20.0 s of the 32.5 s its header declares (an upload that was interrupted, or a file still being written): upload the whole file again',
    });
    expect(media.segmented[0]).toMatchObject({ format: 'mp4', durationSeconds: 32.5 });
    // Within the tolerance (2 s, or 5 % of a long file) it is the same video.
    await expect(segmentMedia({ ...job, media: { ...job.media, durationSeconds: 21.9 } }, ports, settings)).resolves.toBeDefined();
  });

  it('passes on a truncation ffmpeg found, whatever its size, with both durations', async () => {
    const { ports, job, settings } = await segmented(segmentsOf(1000, 1000));
    const media = new ScriptedMediaTool({ segments: segmentsOf(1000, 1000), truncated: true });
    await expect(
      segmentMedia({ ...job, media: { ...job.media, durationSeconds: 20.4 } }, { ...ports, media }, settings),
    ).rejects.toMatchObject({
      name: 'TruncatedInput',
      message: expect.stringMatching(/^"clip.mp4" is cut short: its media ends at 20.0 s of the 20.4 s/),
    });
  });

  it('warns when copied segments are over half as long again as asked, naming their length and the option that honours it', async () => {
    const copy = { video: 'copy', audio: 'copy' } as const;
    expect(longSegmentWarning(copy, [30, 30, 4], 10)).toBe(
      "segments are up to 30.0 s long, not the 10 s asked: copying cuts only at the source's keyframes; --transcode (options.transcode) cuts every 10 s",
    );
    expect(longSegmentWarning(copy, [12, 12, 12], 10)).toBeUndefined(); // a keyframe every 4 s: close enough
    expect(longSegmentWarning({ video: 'encode', rendition: 'source', audio: 'aac' }, [30], 10)).toBeUndefined(); // an encoder cuts where asked
    const { run } = await segmented([
      { bytes: 1000, duration: 30 },
      { bytes: 1000, duration: 10 },
    ]);
    expect((await run()).warnings).toEqual([expect.stringMatching(/^segments are up to 30\.0 s long/)]);
  });

  it('refuses packages that would not fit in the free code storage, before any function exists', async () => {
    const { ports, run } = await segmented(segmentsOf(1000, 1000));
    ports.code.quota = async () => ({ limitBytes: 10_000, usedBytes: 9_000 });
    await expect(run()).rejects.toMatchObject({
      name: 'CodeStorageQuotaExceeded',
      // 10 % of the quota is kept for the account's other functions.
      message: expect.stringContaining(
        "only 0 bytes of 9.8 KiB is free (8.8 KiB stored, 0 bytes reserved by 0 runs under way, 1000 bytes kept for the account's other functions)",
      ),
    });
    expect(await ports.code.list('')).toEqual([]);
  });

  it('says the input was deleted when ffmpeg fails because it disappeared mid-run', async () => {
    const { ports, job, settings } = await segmented(segmentsOf(1000, 1000, 1000));
    const media = new ScriptedMediaTool({ segments: segmentsOf(1000, 1000, 1000), failAfter: 1 });
    await ports.objects.delete('input', 'clip.mp4');
    await expect(segmentMedia(job, { ...ports, media }, settings)).rejects.toMatchObject({
      name: 'InputNotFound',
      message: '"clip.mp4" was deleted from the input bucket while it was being converted',
    });
    expect(readdirSync(settings.scratchDir)).toEqual([]);
  });

  it("keeps ffmpeg's own failure when the input is still there", async () => {
    const { ports, job, settings } = await segmented(segmentsOf(1000));
    const media = new ScriptedMediaTool({ segments: segmentsOf(1000, 1000), failAfter: 1 });
    await expect(segmentMedia(job, { ...ports, media }, settings)).rejects.toMatchObject({ name: 'SegmentationFailed' });
  });
});

describe('a transcode in chunks: SegmentMedia, EncodeChunk, JoinChunks', () => {
  /** HEVC: transcoded; 9 ten-second segments in chunks of at most 30 s, so three. */
  async function transcode(settings = stepSettings({ maxChunkSeconds: 30 })) {
    const segments = segmentsOf(1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800);
    const clip = await uploadedClip({ segments, probe: { ...MP4, durationSeconds: 90, video: { ...MP4.video!, codec: 'hevc' } } });
    const job = await validateInput(clip.request, clip.ports, settings);
    return { ...clip, job, settings };
  }

  it('plans the chunks and encodes the audio once, cut at their starts; each chunk stores its segments; JoinChunks packs them all', async () => {
    const { ports, media, job, settings } = await transcode();
    const planned = await segmentMedia(job, ports, settings);
    expect(planned).toMatchObject({
      chunks: [0, 1, 2],
      plannedSegments: 9,
      plan: { video: 'encode', rendition: 'source', audio: 'copy' },
    });
    expect(media.audioSplits.map((r) => r.cuts)).toEqual([[30, 60]]);
    for (const chunk of [0, 1, 2])
      expect(await ports.objects.head('work', keys.chunkAudio(job.videoId, job.revision, chunk))).toBeDefined();
    expect(await ports.objects.head('work', keys.manifest(job.videoId, job.revision))).toBeUndefined(); // not before the chunks

    const results = [];
    for (const chunk of [2, 0, 1])
      results.push(await encodeChunk({ videoId: job.videoId, revision: job.revision, chunk }, ports, settings));
    expect(results.map((r) => [r.chunk, r.segments])).toEqual([
      [2, 3],
      [0, 3],
      [1, 3],
    ]);
    expect(media.chunked.map((r) => [r.firstSegment, r.segmentCount, r.start, r.end, Boolean(r.audio)])).toEqual([
      [6, 3, 60, undefined, true],
      [0, 3, 0, 30, true],
      [3, 3, 30, 60, true],
    ]);

    const joined = await joinChunks(job, ports, settings);
    expect(joined).toMatchObject({ segmentCount: 9, durationSeconds: 90, chunks: { count: 3 } });
    const manifest = await readDocument(ports.objects, 'work', joined.manifestKey, parseManifest);
    expect(manifest.segments.map((s) => [s.index, s.bytes, s.start])).toEqual(
      segmentsOf(1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800).map((s, i) => [i, s.bytes, i * 10]),
    );
    for (const s of manifest.segments) expect(s.crc32).toBe(crc32(await ports.objects.get('work', s.key)));
    for (const chunk of [0, 1, 2])
      expect(await ports.objects.head('work', keys.chunkAudio(job.videoId, job.revision, chunk))).toBeUndefined();
    expect(readdirSync(settings.scratchDir)).toEqual([]);
  });

  it("runs no more chunks at once than half the account's unreserved concurrency, and says so", async () => {
    const { ports, job, settings } = await transcode(stepSettings({ maxChunkSeconds: 10, encodeConcurrency: 10 }));
    const code = ports.code as MemoryCodeStore;
    code.unreservedConcurrency = 1000;
    expect(await segmentMedia(job, ports, settings)).toMatchObject({
      chunkConcurrency: 9,
      chunking: 'encoding in 9 chunks of 10 s, 9 at a time',
    });
    // A new account: 10 concurrent executions in all, none reserved.
    code.unreservedConcurrency = 10;
    const small = await segmentMedia(job, ports, settings);
    expect(small).toMatchObject({ chunks: [0, 1, 2, 3, 4, 5, 6, 7, 8], chunkConcurrency: 5 });
    expect((small as { chunking: string }).chunking).toBe(
      'encoding in 9 chunks of 10 s, 5 at a time (at most 5 chunks at once, not 10: the account has 10 unreserved concurrent executions, and half of them are left to playback and its other functions)',
    );
    code.unreservedConcurrency = 1;
    expect(await segmentMedia(job, ports, settings)).toMatchObject({ chunkConcurrency: 1 });
  });

  it('refuses to join chunks that do not join up', async () => {
    const { ports, job, settings } = await transcode();
    await segmentMedia(job, ports, settings);
    for (const chunk of [0, 2]) await encodeChunk({ videoId: job.videoId, revision: job.revision, chunk }, ports, settings);
    // Chunk 1's list says it made nothing (a task that lost its frames).
    await ports.objects.put(
      'work',
      keys.chunkManifest(job.videoId, job.revision, 1),
      JSON.stringify({ chunk: 1, segments: 0, seconds: 0, records: [] }),
    );
    await expect(joinChunks(job, ports, settings)).rejects.toMatchObject({
      name: 'SegmentationFailed',
      message: 'chunk 2 made segment 6 where segment 3 was due: the chunks do not join up',
    });
  });

  it('fails ValidateInput with TranscodeTooLarge, before anything is made, when one segment cannot be encoded within the timeout', async () => {
    const settings = stepSettings({ encodeTimeoutSeconds: 900, encodeMemoryMb: 3008 });
    const clip = await uploadedClip({
      probe: { ...MP4, durationSeconds: 600, video: { codec: 'hevc', width: 7680, height: 4320, frameRate: 120 } },
    });
    await expect(
      validateInput({ ...clip.request, options: { segmentSeconds: 60, profile: 'source', ladder: 'source' } }, clip.ports, settings),
    ).rejects.toMatchObject({
      name: 'TranscodeTooLarge',
    });
    expect([...clip.ports.objects.data.keys()].filter((k) => !k.startsWith('input/'))).toEqual([]);
  });
});
