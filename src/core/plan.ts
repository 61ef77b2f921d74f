// What SegmentMedia does to each stream. Pure: decided from the probe and the options only.
import type { EncodingPlan, Job } from './model';

export function planEncoding(job: Pick<Job, 'source' | 'media' | 'options'>): EncodingPlan {
  const { media, options, source } = job;
  const audio = media.audio ? (media.audio.codec === 'aac' && source.kind === 'video' ? 'copy' : 'aac') : 'none';
  // An .mp3 becomes audio-only AAC in MPEG-TS, which every HLS player accepts.
  if (source.kind === 'audio' || !media.video) return { video: 'none', audio: media.audio ? 'aac' : 'none' };
  if (options.profile === '360p') return { video: 'h264-360p', audio: media.audio ? 'aac' : 'none' };
  // H.264 goes into MPEG-TS as it is (ffmpeg inserts h264_mp4toannexb); anything else is encoded.
  return { video: media.video.codec === 'h264' ? 'copy' : 'h264', audio };
}
