// MediaTool on ffmpeg/ffprobe binaries (./binaries.ts says which). A URL input is opened through a
// relay on 127.0.0.1 (./loopback.ts): the static binaries crash resolving host names.
//
// Whoever uploads chooses the bytes ffmpeg reads, so ffmpeg is kept to that one input: the demuxer
// is the one for the file's extension (never guessed from the content: a DASH manifest or an HLS
// playlist named .mp4 is not fetched), only the file's own protocol is allowed (a path, or the
// relay on 127.0.0.1), the mov demuxer's external references stay off, and every run has limits:
// memory for each process (its data segment, `ulimit -d`), ffprobe a time limit, ffmpeg a network
// timeout and a stall watchdog. An MP4's index is checked before ffprobe reads it (mp4-index.ts).
//
// Its parts: ./binaries.ts (which binaries), ./probe.ts (ffprobe's output read), ./arguments.ts
// (each run's arguments), ./process.ts (running and supervising the processes).
import { mkdir, open } from 'node:fs/promises';
import { earliestVideoPts } from '../../core/ts-continuity';
import { NotMedia } from '../../core/errors';
import type { ProbeResult } from '../../core/model';
import type { MediaTool } from '../../ports';
import { hasLowAudio, LOW_AUDIO } from '../../core/ladder';
import { asFfmpegInput, audioSplitArgs, chunkArgs, inputArgs, outputDir, segmentArgs } from './arguments';
import { type BinaryPaths, type Binaries, resolveBinary } from './binaries';
import { loopbackFor } from './loopback';
import { runTextTrack } from './text-tracks';
import { runPicture } from './previews';
import { checkIndex, GOP_SCAN, hasLeadingPictures, parseProbe, unreadable } from './probe';
import { DEFAULT_LIMITS, lastLine, type MediaLimits, run, runThroughLoopbacks, type SegmentListEntry, streamSegments } from './process';

/** What ffmpegMediaTool takes besides the binaries' paths. */
export { DEFAULT_LIMITS, type MediaLimits } from './process';

/** The media tool on ffmpeg and ffprobe; each binary is looked up when first run, so a step that only probes never needs ffmpeg. */
export function ffmpegMediaTool(paths: BinaryPaths = {}, limits: MediaLimits = DEFAULT_LIMITS): MediaTool {
  const binaries: Partial<Binaries> = {};
  const binary = (name: keyof Binaries) => (binaries[name] ??= resolveBinary(name, paths));
  return {
    async probe(input, format, signal) {
      const loopback = await loopbackFor(input);
      try {
        if (format === 'mp4') await checkIndex(input);
        const result = await run(
          binary('ffprobe'),
          [...inputArgs(loopback.location, format, limits), '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams'],
          limits,
          limits.probeMs,
          signal,
        );
        let probe: ProbeResult | undefined;
        if (result.code === 0) {
          try {
            probe = parseProbe(result.stdout);
          } catch {
            throw new NotMedia('ffprobe returned no usable description of the file');
          }
        }
        // The mp3 demuxer takes anything for a stream: without one real frame it has no rate.
        const readable = probe && (format !== 'mp3' || (probe.audio?.sampleRate ?? 0) > 0);
        if (!readable) throw await unreadable(loopback.location, format, result, limits);
        // Only an H.264 picture may be copied: whether its segments would stand alone is read from its packets.
        if (probe!.video?.codec === 'h264') {
          const packets = await run(
            binary('ffprobe'),
            [...inputArgs(loopback.location, format, limits), ...GOP_SCAN],
            limits,
            limits.probeMs,
            signal,
          );
          if (packets.code === 0) probe!.video.openGop = hasLeadingPictures(packets.stdout);
        }
        return probe!;
      } finally {
        await loopback.close();
      }
    },

    async segment(request) {
      // A copied picture's first segment starts where its first frame shows (the list says 0). On a
      // ladder's timeline (a copied top rung), its times are told from the timeline's 0.
      const shift = request.timeline?.timeOffset ?? 0;
      // On a ladder's timeline its first segment starts at 0, as the encoded rungs' do (and their EXTINF are the same).
      const firstStart =
        request.plan.video === 'copy' && !request.timeline
          ? async (path: string) => earliestVideoPts(await leadingPackets(path))
          : undefined;
      const place = request.timeline
        ? (entry: SegmentListEntry, position: number) => ({
            index: position,
            start: Math.max(0, entry.start - shift),
            duration: Math.max(0, entry.end - Math.max(shift, entry.start)),
          })
        : undefined;
      return runThroughLoopbacks([request.input], ([input]) =>
        streamSegments(
          binary('ffmpeg'),
          segmentArgs({ ...request, input: input! }, limits),
          { ...request, firstStart, ...(place && { place }) },
          limits,
        ),
      );
    },

    async encodeChunk(request) {
      const sounds = [request.audio, request.lowAudio].filter((a) => a !== undefined);
      // Back on the 0-based timeline; the list's first start is where the muxer began (0), the chunk's is its own.
      const place = (entry: SegmentListEntry, position: number) => {
        const start = position === 0 ? request.start : entry.start - request.timeOffset;
        return { index: request.firstSegment + position, start, duration: Math.max(0, entry.end - request.timeOffset - start) };
      };
      // A ladder's rungs each have their segment muxer, in a folder of its own.
      const outputs =
        request.plan.video === 'ladder'
          ? request.plan.rungs.filter((r) => !r.copy).map((r) => ({ dir: outputDir(request.outDir, r.name), rendition: r.name }))
          : undefined;
      for (const output of outputs ?? []) await mkdir(output.dir, { recursive: true });
      return runThroughLoopbacks([request.input, ...sounds], ([input, ...relayed]) => {
        const audio = request.audio === undefined ? undefined : relayed[0];
        const lowAudio = request.lowAudio === undefined ? undefined : relayed[sounds.length - 1];
        const args = chunkArgs({ ...request, input: input!, audio, lowAudio }, limits);
        return streamSegments(binary('ffmpeg'), args, { ...request, place, ...(outputs && { outputs }) }, limits);
      });
    },

    async splitAudio(request) {
      // ffmpeg's position is on the output's timeline; progress counts from the source's start.
      const { onProgress } = request;
      const progress = onProgress && ((seconds: number) => onProgress(Math.max(0, seconds - request.timeOffset)));
      // A ladder's cellular rung's own sound is cut beside the shared one, in a folder of its own.
      const low = hasLowAudio(request.plan) ? outputDir(request.outDir, LOW_AUDIO) : undefined;
      if (low) await mkdir(low, { recursive: true });
      const outputs = low ? [{ dir: request.outDir }, { dir: low, rendition: LOW_AUDIO }] : undefined;
      return runThroughLoopbacks([request.input], ([input]) =>
        streamSegments(
          binary('ffmpeg'),
          audioSplitArgs({ ...request, input: input! }, limits),
          { ...request, onProgress: progress, ...(outputs && { outputs }) },
          limits,
        ),
      );
    },

    async poster(request) {
      const [frame] = await runPicture(binary('ffmpeg'), 'poster', request, limits);
      return { seconds: Math.max(0, frame!.seconds - request.startSeconds), meanLuma: frame!.meanLuma };
    },

    async storyboard(request) {
      return (await runPicture(binary('ffmpeg'), 'storyboard', request, limits)).map((f) => f.seconds);
    },

    textTrack(request) {
      return runTextTrack(binary('ffmpeg'), request, limits);
    },

    async testClip(path, seconds) {
      const result = await run(
        binary('ffmpeg'),
        [
          '-hide_banner',
          '-loglevel',
          'error',
          '-nostdin',
          '-y',
          '-f',
          'lavfi',
          '-i',
          'testsrc2=size=1280x720:rate=25',
          '-f',
          'lavfi',
          '-i',
          'sine=frequency=440:sample_rate=48000',
          '-t',
          String(seconds),
          '-c:v',
          'libx264',
          '-preset',
          'veryfast',
          '-g',
          '50',
          '-pix_fmt',
          'yuv420p',
          '-c:a',
          'aac',
          '-b:a',
          '96k',
          '-ac',
          '2',
          '-shortest',
          asFfmpegInput(path),
        ],
        limits,
      );
      if (result.code !== 0) throw new Error(`ffmpeg could not make the test clip: ${lastLine(result.stderr)}`);
    },
  };
}

/** The first frames' worth of a segment (its first 8 MB, whole packets): enough for the first GOP's reordering. */
async function leadingPackets(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(8 * 1024 * 1024 - ((8 * 1024 * 1024) % 188));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead - (bytesRead % 188));
  } finally {
    await handle.close();
  }
}
