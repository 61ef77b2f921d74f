// An independent player's view of a stream: the video frames ffprobe decodes from a file or a
// playlist URL. Asynchronous, so a test may serve the stream from its own process meanwhile.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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
 * The video frames GStreamer decodes from a playlist URL: one `chain` message per decoded frame
 * reaching the sink. playbin, as a GStreamer application plays: it decodes the sound into a sink of
 * its own (with only the video linked, decodebin2 now and then left the decoded audio on a pad
 * nothing linked, and the pipeline never posted EOS — 5 of 550 rehearsal runs), and it links the
 * new pads hlsdemux exposes when it switches a ladder's rungs (a static uridecodebin pipeline
 * stopped there: "streaming stopped, reason not-linked"). Its HLS is the classic hlsdemux
 * (hlsdemux2 needs a streams-aware bin: playbin3).
 */
export async function gstreamerFrames(input: string): Promise<number> {
  const args = [
    '-v',
    'playbin',
    `uri=${input}`,
    'video-sink=fakesink name=frames silent=false sync=false',
    'audio-sink=fakesink name=sound sync=false',
  ];
  const { stdout } = await run(GSTREAMER, args, { timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
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

/** Width and height of a URL's or file's first video stream, as Debian's ffprobe reads it. */
async function pictureSize(input: string): Promise<{ width: number; height: number }> {
  const { stdout } = await run(
    PLAYER,
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', input],
    {
      timeout: 120_000,
    },
  );
  const [width, height] = stdout.trim().split('\n')[0]!.split(',').map(Number);
  if (!width || !height) throw new Error(`no picture size for ${input}: ${stdout}`);
  return { width, height };
}

/**
 * The video frames VLC decodes playing a URL or file to its end: its own demuxers (HLS, MPEG-TS)
 * and decoders, their pictures written raw (I420) by its stream output as fast as they come, so
 * nothing is paced, dropped or cut short for display (its window, at 8×, lost frames at the end
 * on a busy machine), each at the first variant's size (VLC switches a ladder's rungs as it likes:
 * frames of several sizes in one raw file cannot be counted). As a non-root user. (Its --start-time is not honoured for HLS in VLC 3.0, so
 * seeking is checked in the browsers.)
 */
export async function vlcFrames(input: string, options: string[] = []): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-hls-vlc-'));
  chmodSync(dir, 0o777);
  const out = join(dir, 'frames.yuv');
  try {
    const { width, height } = await pictureSize(input);
    const user = playerUser();
    // Every picture scaled to one size, so frames are counted by bytes whichever rung of a ladder VLC plays.
    const sout = `#transcode{vcodec=I420,width=${width},height=${height},acodec=none}:std{access=file,mux=raw,dst=${out}}`;
    const vlc = [VLC, '-q', ...options, input, '--sout', sout, 'vlc://quit'];
    const [command, ...args] = user ? ['runuser', '-u', user, '--', 'env', `HOME=${dir}`, ...vlc] : vlc;
    await run(command!, args, { timeout: 60_000 });
    const frameBytes = width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
    return Math.floor(statSync(out).size / frameBytes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * VLC 3.0 does not decode the last frame of an MPEG-TS stream, a file or HLS alike: 299 of a
 * 300-frame clip over our routes and the delivery route, 359 of 360 from a one-file TS ffmpeg
 * muxed in one run, 300 of 300 from the MP4 (measured, its stream output counted frame by frame,
 * the same on an idle machine and a busy one). So a stream of ours must give every frame but that
 * one; a segment boundary VLC stumbles on costs more (counters restarting in every segment: 297 of
 * 300 over HLS, 358 of 360 from the file).
 */
export const VLC_UNSHOWN_LAST_FRAMES = 1;
