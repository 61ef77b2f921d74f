// An independent player's view of a stream: the video frames ffprobe decodes from a file or a
// playlist URL. Asynchronous, so a test may serve the stream from its own process meanwhile.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Debian's ffprobe (apt-get install ffmpeg; .ci/run does): the static one from npm crashes on MPEG-TS. */
export const PLAYER = process.env.E2E_FFPROBE ?? '/usr/bin/ffprobe';

export async function framesOf(ffprobe: string, input: string): Promise<number> {
  const args = [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    input,
  ];
  const { stdout } = await promisify(execFile)(ffprobe, args, { timeout: 120_000 });
  // For HLS, ffprobe lists the stream under its program too: the same count twice.
  return Number(stdout.trim().split('\n')[0]);
}

/** The first video stream as the player describes it (ffprobe's -show_streams fields); with `countFrames`, nb_read_frames too. */
export async function videoStreamOf(ffprobe: string, input: string, countFrames = false): Promise<Record<string, string | number>> {
  const args = ['-v', 'error', ...(countFrames ? ['-count_frames'] : []), '-select_streams', 'v:0', '-show_streams', '-of', 'json', input];
  const { stdout } = await promisify(execFile)(ffprobe, args, { timeout: 120_000 });
  return (JSON.parse(stdout) as { streams: Record<string, string | number>[] }).streams[0]!;
}
