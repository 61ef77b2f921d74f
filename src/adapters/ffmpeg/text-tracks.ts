// A source's text stream (an mp4's mov_text) as WebVTT, by ffmpeg's webvtt encoder: MakeCaptions
// then reads it as it reads an uploaded .vtt. Times are the output's (the source's start is 0), as
// the segments' are.
import { CaptionInvalid } from '../../core/errors';
import type { TextTrackRequest } from '../../ports';
import { inputArgs } from './arguments';
import { loopbackFor } from './loopback';
import { ffmpegCause, type MediaLimits, outOfMemory, run, tooDemanding } from './process';

/** A text stream is read to the input's end: as long as a storyboard's run may take. */
const TEXT_TRACK_TIMEOUT_MS = 600_000;

export function textTrackArgs(request: TextTrackRequest, location: string, limits: MediaLimits): string[] {
  return [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error'],
    ...inputArgs(location, request.format, limits),
    ...['-map', `0:${request.stream}`, '-vn', '-an', '-dn', '-c:s', 'webvtt', '-f', 'webvtt', 'pipe:1'],
  ];
}

export async function runTextTrack(ffmpeg: string, request: TextTrackRequest, limits: MediaLimits): Promise<string> {
  const loopback = await loopbackFor(request.input);
  try {
    const result = await run(ffmpeg, textTrackArgs(request, loopback.location, limits), limits, TEXT_TRACK_TIMEOUT_MS, request.signal);
    if (outOfMemory(result, limits)) throw tooDemanding('ffmpeg', limits);
    if (result.timedOut) throw new CaptionInvalid(`ffmpeg took too long reading stream ${request.stream}`);
    if (result.code !== 0) throw new CaptionInvalid(`ffmpeg could not read stream ${request.stream}: ${ffmpegCause(result.stderr)}`);
    return result.stdout;
  } finally {
    await loopback.close();
  }
}
