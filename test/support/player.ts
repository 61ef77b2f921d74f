// An independent player's view of a stream: the video frames ffprobe decodes from a file or a
// playlist URL. Asynchronous, so a test may serve the stream from its own process meanwhile.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const run = promisify(execFile);

/** Debian's GStreamer (gstreamer1.0-tools, -plugins-good/-bad for HLS, -libav for H.264). */
export const GSTREAMER = process.env.E2E_GST_LAUNCH ?? '/usr/bin/gst-launch-1.0';
/** Debian's VLC (vlc-bin, vlc-plugin-base). It refuses to run as root: see playerUser. */
export const VLC = process.env.E2E_CVLC ?? '/usr/bin/cvlc';

/**
 * The video frames GStreamer decodes from a playlist URL (uridecodebin picks hlsdemux2, the
 * highest-ranked HLS demuxer): one `chain` message per decoded frame reaching the sink.
 */
export async function gstreamerFrames(input: string): Promise<number> {
  const args = ['-v', 'uridecodebin', `uri=${input}`, 'name=d', 'd.', '!', 'queue', '!', 'video/x-raw', '!'];
  args.push('fakesink', 'name=frames', 'silent=false', 'sync=false');
  const { stdout } = await run(GSTREAMER, args, { timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
  if (!stdout.includes('Got EOS')) throw new Error(`GStreamer did not reach the end of ${input}:\n${stdout.slice(-2000)}`);
  return stdout.split('\n').filter((line) => line.includes('frames: last-message = chain')).length;
}

const PLAYER_USER = 'lambdahls-player';

/**
 * A user to run VLC as (it refuses root): this one when not root; else a system user without a
 * home or a shell, created here the first time (useradd).
 */
export function playerUser(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (spawnSync('id', ['-u', PLAYER_USER]).status !== 0) {
    const made = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', PLAYER_USER], { encoding: 'utf8' });
    if (made.status !== 0 && spawnSync('id', ['-u', PLAYER_USER]).status !== 0) throw new Error(`useradd ${PLAYER_USER}: ${made.stderr}`);
  }
  return PLAYER_USER;
}

/**
 * Frames in a YUV4MPEG2 stream (VLC's yuv video output) that differ from the one before: each is
 * `FRAME…\n` and width × height × 1.5 bytes. A frame written twice in a row is one frame shown
 * (VLC repeats the last frame it has of an MPEG-TS file instead of showing the file's last).
 */
function y4mFrames(data: Buffer): number {
  const headerEnd = data.indexOf(0x0a);
  const header = data.subarray(0, headerEnd).toString('latin1');
  const width = Number(/ W(\d+)/.exec(header)?.[1]);
  const height = Number(/ H(\d+)/.exec(header)?.[1]);
  if (!width || !height) throw new Error(`not a YUV4MPEG2 stream: ${header.slice(0, 80)}`);
  const frameBytes = width * height * 1.5;
  let frames = 0;
  let previous: Buffer | undefined;
  for (let at = headerEnd + 1; at < data.length; ) {
    const line = data.indexOf(0x0a, at);
    if (line < 0 || data.subarray(at, at + 5).toString('latin1') !== 'FRAME') break;
    const picture = data.subarray(line + 1, line + 1 + frameBytes);
    at = line + 1 + frameBytes;
    if (at > data.length) break; // a frame cut short is not shown
    if (!previous || !picture.equals(previous)) frames++;
    previous = picture;
  }
  return frames;
}

/**
 * The video frames VLC shows playing a URL or file to its end, read from its raw video output.
 * Played at 8× speed with no frame dropped or skipped; as a non-root user. (Its --start-time is
 * not honoured for HLS in VLC 3.0, so seeking is checked in the browsers.)
 */
export async function vlcFrames(input: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-hls-vlc-'));
  chmodSync(dir, 0o777);
  const out = join(dir, 'frames.y4m');
  try {
    const user = playerUser();
    const vlc = [VLC, '-q', '--rate', '8', '--play-and-exit', '--no-drop-late-frames', '--no-skip-frames', '--aout=dummy'];
    vlc.push('--vout=yuv', `--yuv-file=${out}`, '--yuv-chroma=I420');
    vlc.push(input, 'vlc://quit');
    const [command, ...args] = user ? ['runuser', '-u', user, '--', 'env', `HOME=${dir}`, ...vlc] : vlc;
    await run(command!, args, { timeout: 120_000 });
    return y4mFrames(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * VLC 3.0 does not show the last frame of an HLS stream in MPEG-TS: of every 300-frame (or
 * 750-frame) clip it shows 299 (749) distinct frames, through our routes as through the delivery
 * route, on an idle machine or a busy one; of Debian ffmpeg's own one-file TS of the same source it
 * shows the last frame in some runs and repeats the one before in others, and of the MP4 it shows
 * all 300 (measured, frame by frame). So a stream of ours must show every frame but that one: a
 * segment boundary VLC stumbles on costs more (counters restarting in every segment: 297 of 300).
 */
export const VLC_UNSHOWN_LAST_FRAMES = 1;
