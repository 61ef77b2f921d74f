import { CaptionInvalid, TransientNetworkError } from '../../../src/core/errors';
import type { Job, OffsetsDocument, RungPlan } from '../../../src/core/model';
import { keys } from '../../../src/core/naming';
import { makeCaptions } from '../../../src/steps/make-captions';
import { memoryPorts, ScriptedMediaTool } from '../../support/memory';
import { MP4 } from '../../support/steps';

/** One MPEG-TS packet starting a PES of `streamId` with a presentation time of `pts` (90 kHz), `payload` after its header. */
function pesPacket(pid: number, streamId: number, pts: number, payload: number[] = []): Buffer {
  const packet = Buffer.alloc(188, 0xff);
  packet.set([0x47, 0x40 | (pid >> 8), pid & 0xff, 0x10]);
  const high = Math.floor(pts / 2 ** 30) & 0x07;
  const low = pts % 2 ** 30;
  packet.set(
    [
      0,
      0,
      1,
      streamId,
      0,
      0,
      0x80,
      0x80,
      5,
      0x21 | (high << 1),
      (low >> 22) & 0xff,
      0x01 | ((low >> 14) & 0xfe),
      (low >> 7) & 0xff,
      0x01 | ((low << 1) & 0xfe),
    ],
    4,
  );
  packet.set(payload, 18);
  return packet;
}

/** An H.264 sequence parameter set (High, level 3.0) and an ADTS header (AAC-LC), as a segment's first PES carry them. */
const SPS = [0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1e];
const ADTS = [0xff, 0xf1, 0x50, 0x80];

const RUNG = {
  name: '360p',
  width: 640,
  height: 360,
  kbps: 800,
  maxKbps: 1200,
  bufferKbps: 1600,
  profile: 'main',
  audio: 'shared',
} as RungPlan;

/** A ladder's job whose first segment (in package 0, at byte 100) starts its sound at 2.32 s and its picture at 2.4 s. */
async function ladderJob(captions: Job['captions'], plan: Job['plan'] = { video: 'ladder', audio: 'aac', rungs: [RUNG] }) {
  const media = new ScriptedMediaTool({
    textTracks: {
      2: 'WEBVTT\n\n00:00:09.000 --> 00:00:11.000\nGuten Tag\n',
      3: new CaptionInvalid('ffmpeg could not read stream 3: Invalid data'),
    },
  });
  const ports = memoryPorts({ media });
  const job = {
    videoId: 'talk-1a2b3c',
    revision: 'abcd1234',
    source: { key: 'f/talk.mp4', bytes: 1, extension: '.mp4', kind: 'video' },
    media: { ...MP4, durationSeconds: 12 },
    options: { segmentSeconds: 6, profile: 'source', ladder: 'auto' },
    plan,
    captions,
  } as Job;
  await ports.objects.put('input', 'f/talk.mp4', 'mp4');
  const segment = Buffer.concat([pesPacket(0x101, 0xc0, 208_800, ADTS), pesPacket(0x100, 0xe0, 216_000, SPS), Buffer.alloc(188 * 3, 0x47)]);
  const zip = Buffer.concat([Buffer.alloc(100), segment]);
  await ports.code.createPackage('lhls-talk-1a2b3c-abcd1234-0', {
    size: zip.length,
    chunks: async function* () {
      yield zip;
    },
  });
  const offsets: OffsetsDocument = {
    videoId: job.videoId,
    revision: job.revision,
    segments: [0, 1].map((position) => ({
      index: position,
      rendition: '360p',
      position,
      package: 0,
      functionName: 'lhls-talk-1a2b3c-abcd1234-0',
      offset: 100 + position * segment.length,
      length: segment.length,
      duration: 6,
    })),
  };
  await ports.objects.put('work', keys.offsets(job.videoId, job.revision), JSON.stringify(offsets));
  return { ports, job, offsetsKey: keys.offsets(job.videoId, job.revision) };
}

describe('MakeCaptions', () => {
  it("stores each track whole beside its subtitle playlist, cut as the video is, WebVTT's 0 on the first picture's timestamp", async () => {
    const { ports, job, offsetsKey } = await ladderJob([
      { file: 'f/talk.en.srt', format: 'srt', language: 'en' },
      { stream: 2, codec: 'mov_text', language: 'de' },
    ]);
    await ports.objects.put('input', 'f/talk.en.srt', '1\n00:00:01,000 --> 00:00:02,000\nHello\n');
    const result = await makeCaptions({ job, offsetsKey }, ports);
    expect(result.set).toMatch(/^[0-9a-f]{8}$/);
    expect(result.tracks?.map(({ id, language, name, from, cues }) => ({ id, language, name, from, cues }))).toEqual([
      { id: 0, language: 'en', name: 'English', from: 'talk.en.srt', cues: 1 },
      { id: 1, language: 'de', name: 'Deutsch', from: 'mov_text stream 2', cues: 1 },
    ]);
    const [english, german] = result.tracks!;
    // The picture's first timestamp (2.4 s), not the sound's (2.32 s): a cue at 0:01 shows with the picture of 0:01.
    expect((await ports.objects.get('output', english!.trackKey)).toString()).toBe(
      'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:216000,LOCAL:00:00:00.000\n\n00:00:01.000 --> 00:00:02.000\nHello\n',
    );
    expect((await ports.objects.get('output', german!.playlistKey)).toString()).toContain(
      '#EXTINF:6.000000,\n1/0.vtt\n#EXTINF:6.000000,\n1/1.vtt\n',
    );
    expect(german!.playlistKey).toBe(keys.subtitlePlaylist(job.videoId, job.revision, result.set!, 1));
    expect(result.warnings).toBeUndefined();
  });

  it('leaves out a track it cannot read and says why, keeping the others; with none left it writes nothing', async () => {
    const { ports, job, offsetsKey } = await ladderJob([
      { file: 'f/talk.fr.vtt', format: 'vtt', language: 'fr' },
      { stream: 3, codec: 'mov_text', language: 'und' },
    ]);
    await ports.objects.put('input', 'f/talk.fr.vtt', Buffer.from('WEBVTT\n\n00:01.000 --> 00:02.000\n\xe9t\xe9\n', 'latin1'));
    expect(await makeCaptions({ job, offsetsKey }, ports)).toEqual({
      warnings: [
        'talk.fr.vtt is left out: it is not UTF-8 text (line 4 is not): save it as UTF-8 and upload it again',
        'mov_text stream 3 is left out: ffmpeg could not read stream 3: Invalid data',
      ],
    });
    expect(await ports.objects.list('output', 'v/')).toEqual([]);
  });

  it("gives one rendition's CODECS, read from its first segment, for the variant its multivariant playlist then declares", async () => {
    const { ports, job, offsetsKey } = await ladderJob([{ file: 'f/talk.en.srt', format: 'srt', language: 'en' }], {
      video: 'copy',
      audio: 'copy',
    });
    await ports.objects.put('input', 'f/talk.en.srt', '1\n00:00:01,000 --> 00:00:02,000\nHello\n');
    const result = await makeCaptions({ job, offsetsKey }, ports);
    expect([result.tracks?.length, result.codecs]).toEqual([1, 'avc1.64001e,mp4a.40.2']);
  });

  it("throws the stores' faults for the state machine to retry, rather than publish without captions", async () => {
    const { ports, job, offsetsKey } = await ladderJob([{ file: 'f/talk.en.srt', format: 'srt', language: 'en' }]);
    ports.objects.get = async () => {
      throw new TransientNetworkError('connection reset');
    };
    await expect(makeCaptions({ job, offsetsKey }, ports)).rejects.toThrow(TransientNetworkError);
  });
});
