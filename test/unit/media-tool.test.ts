import { parseProbe, parseSegmentList, segmentArgs } from '../../src/adapters/ffmpeg/media-tool';
import { DIRECT_UPLOAD_BYTES, planBatches, planEncoding, planPackages, segmentEntryName } from '../../src/core/plan';
import { layoutStoredZip, storedEntryOverhead } from '../../src/core/zip';
import type { Job } from '../../src/core/model';

const video = { codec: 'h264', width: 1920, height: 1080 };
const audio = { codec: 'aac', channels: 2, sampleRate: 48000 };
function job(kind: 'video' | 'audio', media: Job['media'], profile: 'source' | '360p' = 'source') {
  return {
    source: { key: 'x', bytes: 1, extension: kind === 'video' ? '.mp4' : '.mp3', kind },
    media,
    options: { segmentSeconds: 10, profile },
  };
}

describe('encoding plan', () => {
  it('copies H.264 and AAC', () => {
    expect(planEncoding(job('video', { formatName: 'mp4', durationSeconds: 1, video, audio }))).toEqual({ video: 'copy', audio: 'copy' });
  });
  it('transcodes other video codecs and other audio codecs', () => {
    expect(
      planEncoding(
        job('video', { formatName: 'mp4', durationSeconds: 1, video: { ...video, codec: 'hevc' }, audio: { ...audio, codec: 'mp3' } }),
      ),
    ).toEqual({ video: 'h264', audio: 'aac' });
  });
  it('always transcodes for the 360p profile', () => {
    expect(planEncoding(job('video', { formatName: 'mp4', durationSeconds: 1, video, audio }, '360p'))).toEqual({
      video: 'h264-360p',
      audio: 'aac',
    });
  });
  it('turns an mp3 into audio-only AAC, ignoring cover art', () => {
    expect(planEncoding(job('audio', { formatName: 'mp3', durationSeconds: 1, audio: { ...audio, codec: 'mp3' } }))).toEqual({
      video: 'none',
      audio: 'aac',
    });
  });
  it('handles video without audio', () => {
    expect(planEncoding(job('video', { formatName: 'mp4', durationSeconds: 1, video }))).toEqual({ video: 'copy', audio: 'none' });
  });
});

describe('ffmpeg arguments', () => {
  const base = { input: '/scratch/a:b.mp4', segmentSeconds: 6, outDir: '/out' };
  it('keep a local path from being read as a protocol', () => {
    expect(segmentArgs({ ...base, plan: { video: 'copy', audio: 'copy' } })).toContain('file:/scratch/a:b.mp4');
    expect(segmentArgs({ ...base, input: 'https://bucket/x?sig=1', plan: { video: 'copy', audio: 'copy' } })).toContain(
      'https://bucket/x?sig=1',
    );
  });
  it('cut MPEG-TS segments of the asked length with a CSV list', () => {
    const args = segmentArgs({ ...base, plan: { video: 'copy', audio: 'copy' } }).join(' ');
    expect(args).toContain('-f segment -segment_time 6 -segment_format mpegts');
    expect(args).toContain('-segment_list /out/segments.csv -segment_list_type csv');
  });
  it('give the 360p rendition baseline 3.0 at 640x360 with a keyframe per segment', () => {
    const args = segmentArgs({ ...base, plan: { video: 'h264-360p', audio: 'aac' } }).join(' ');
    expect(args).toMatch(/scale=640:360/);
    expect(args).toContain('-profile:v baseline -level 3.0');
    expect(args).toContain('-force_key_frames expr:gte(t,n_forced*6)');
    expect(args).toContain('-c:a aac -b:a 96k -ac 2');
  });
  it('drop video for audio-only output', () => {
    const args = segmentArgs({ ...base, plan: { video: 'none', audio: 'aac' } });
    expect(args).toContain('-vn');
    expect(args).not.toContain('0:v:0');
  });
});

describe('ffprobe output', () => {
  it('does not count cover art as video', () => {
    const probe = parseProbe(
      JSON.stringify({
        format: { format_name: 'mp3', duration: '12.04' },
        streams: [
          { codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '44100' },
          { codec_type: 'video', codec_name: 'mjpeg', disposition: { attached_pic: 1 } },
        ],
      }),
    );
    expect(probe.video).toBeUndefined();
    expect(probe.audio).toEqual({ codec: 'mp3', channels: 2, sampleRate: 44100 });
    expect(probe.durationSeconds).toBeCloseTo(12.04);
  });
  it('reads the frame rate', () => {
    const probe = parseProbe(
      JSON.stringify({
        format: { format_name: 'mov,mp4', duration: '2' },
        streams: [{ codec_type: 'video', codec_name: 'h264', width: 4, height: 4, avg_frame_rate: '30000/1001' }],
      }),
    );
    expect(probe.video?.frameRate).toBeCloseTo(29.97, 2);
  });
});

describe('segment list', () => {
  it('gives each segment its start and end as ffmpeg measured them', () => {
    expect(parseSegmentList('00000.ts,0.000000,10.080000\n00001.ts,10.080000,20.080000\n')).toEqual([
      { file: '00000.ts', start: 0, end: 10.08 },
      { file: '00001.ts', start: 10.08, end: 20.08 },
    ]);
  });
});

describe('packing segments into packages, and packages into batches', () => {
  const segments = (sizes: number[]) => sizes.map((bytes, index) => ({ index, bytes }));
  const overhead = storedEntryOverhead(segmentEntryName(0));

  it('fills each package with consecutive segments up to the byte bound, the zip included', () => {
    const plan = planPackages(segments([400, 400, 400, 400, 400]), { maxBytes: 22 + 2 * (400 + overhead), maxEntries: 1000 });
    expect(plan.map((p) => [p.first, p.count])).toEqual([
      [0, 2],
      [2, 2],
      [4, 1],
    ]);
    expect(plan[0]!.bytes).toBe(22 + 2 * (400 + overhead)); // exactly what layoutStoredZip makes
    const zip = layoutStoredZip([0, 1].map((i) => ({ name: segmentEntryName(i), size: 400, crc32: 0 })));
    expect(zip.size).toBe(plan[0]!.bytes);
  });

  it('caps the entries per package, and gives a segment over the bound a package of its own', () => {
    expect(planPackages(segments([1, 1, 1, 1, 1]), { maxBytes: 1e9, maxEntries: 2 }).map((p) => p.count)).toEqual([2, 2, 1]);
    const plan = planPackages(segments([10, 5000, 10]), { maxBytes: 1000, maxEntries: 1000 });
    expect(plan.map((p) => [p.first, p.count])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
  });

  it('packs by default up to the 50 MB a direct CreateFunction takes', () => {
    const tenMb = segments(Array.from({ length: 12 }, () => 10 * 1024 * 1024));
    const plan = planPackages(tenMb);
    expect(plan.map((p) => p.count)).toEqual([4, 4, 4]);
    expect(Math.max(...plan.map((p) => p.bytes))).toBeLessThanOrEqual(DIRECT_UPLOAD_BYTES);
  });

  it('groups packages into batches by count and bytes', () => {
    const packages = planPackages(segments(Array.from({ length: 20 }, () => 100)), { maxBytes: 1, maxEntries: 1 });
    expect(planBatches(packages, { maxPackages: 8, maxBytes: 1e9 }).map((b) => b.packageCount)).toEqual([8, 8, 4]);
    expect(planBatches(packages, { maxPackages: 100, maxBytes: 3 * packages[0]!.bytes }).map((b) => b.packageCount)).toEqual([
      3, 3, 3, 3, 3, 3, 2,
    ]);
  });
});
