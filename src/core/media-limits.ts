// What each ffmpeg and ffprobe run may use (scratch space waiting to be stored, memory), and the
// line a step says of a run.

/**
 * Bytes of finished segments that may wait in scratch space before ffmpeg is paused: well inside
 * Lambda's ephemeral storage, and enough that a caller as fast as ffmpeg on average never stops it.
 */
export const DEFAULT_SCRATCH_PENDING_BYTES = 256 * 1024 * 1024;

/**
 * Each ffprobe and ffmpeg process's memory (data segment) in MiB, where nothing says otherwise: a
 * 1080p transcode needs about 400, a probe 16. In Lambda the default is the function's memory less
 * what Node and the step keep (`mediaMemoryFor`), so a tool fails with a named error instead of the
 * function being killed out of memory.
 */
export const DEFAULT_MEDIA_MEMORY_MB = 4096;
/** What a Lambda function keeps for Node, the step and its buffers beside the tool. */
const NODE_MEMORY_MB = 256;

export function mediaMemoryFor(functionMemoryMb: number | undefined): number {
  if (functionMemoryMb === undefined || !Number.isFinite(functionMemoryMb) || functionMemoryMb <= 0) return DEFAULT_MEDIA_MEMORY_MB;
  return Math.max(128, functionMemoryMb - NODE_MEMORY_MB);
}

/** One line for a person: how long ffmpeg ran, and how much of it it waited for segments to be stored. */
export function describeFfmpegRun({ seconds, pausedSeconds }: { seconds: number; pausedSeconds: number }): string {
  const share = seconds > 0 ? Math.round((pausedSeconds / seconds) * 100) : 0;
  const ran = seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`;
  return `ffmpeg ${ran}${pausedSeconds >= 0.05 ? `, ${share} % of it waiting for segments to be stored` : ''}`;
}
