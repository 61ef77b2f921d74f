import { checkMp4Index, declaredSampleCounts } from '../../src/core/mp4-index';
import { boxOf, fullBox } from '../support/mp4-boxes';

const reader = (file: Buffer) => async (offset: number, length: number) => file.subarray(offset, offset + length);

/** ftyp, a moov with one track per `stbl` body, and an mdat of `mediaBytes`. */
function mp4(tracks: Buffer[][], mediaBytes: number): Buffer {
  const trak = (tables: Buffer[]) => boxOf('trak', boxOf('mdia', boxOf('minf', boxOf('stbl', Buffer.concat(tables)))));
  return Buffer.concat([
    boxOf('ftyp', Buffer.from('isom\0\0\0\0isom')),
    boxOf('mdat', Buffer.alloc(mediaBytes)),
    boxOf('moov', Buffer.concat([fullBox('mvhd', 0, 0, 1000, 0), ...tracks.map(trak)])),
  ]);
}

/** An stsz listing each sample's size (sample_size 0, then the table). */
const sizes = (...each: number[]) => fullBox('stsz', 0, each.length, ...each);

describe('an MP4 index, read from its boxes before ffprobe', () => {
  it('finds what each track declares: sample sizes, time-to-sample runs', async () => {
    const file = mp4([[fullBox('stts', 2, 3, 512, 2, 1024), sizes(10, 20, 30, 40, 50)], [fullBox('stsz', 100, 4)]], 600);
    expect(await declaredSampleCounts(reader(file), file.length)).toEqual([
      { track: 1, box: 'stts', samples: 5 },
      { track: 1, box: 'stsz', samples: 5 },
      { track: 2, box: 'stsz', samples: 4 },
    ]);
    await expect(checkMp4Index(reader(file), file.length)).resolves.toBeUndefined();
  });

  it('refuses 80 million samples of one byte in a file of a few hundred: CorruptIndex, naming the track and the sizes', async () => {
    const file = mp4([[sizes(10)], [fullBox('stts', 1, 80_000_000, 512), fullBox('stsz', 1, 80_000_000)]], 100);
    await expect(checkMp4Index(reader(file), file.length)).rejects.toMatchObject({
      name: 'CorruptIndex',
      message: expect.stringMatching(/^its index declares 80,000,000 samples \(track 2, stts\) but the file is \d+ bytes, too few/),
    });
  });

  it("refuses a fragment's run declaring more samples than the file holds", async () => {
    const trun = fullBox('trun', 50_000_000, 0);
    const file = Buffer.concat([mp4([[sizes(10)]], 10), boxOf('moof', boxOf('traf', trun)), boxOf('mdat', Buffer.alloc(10))]);
    await expect(checkMp4Index(reader(file), file.length)).rejects.toMatchObject({
      name: 'CorruptIndex',
      message: expect.stringContaining("50,000,000 samples (a fragment's run (trun))"),
    });
  });

  it('leaves what it cannot parse (a box past the end, a 64-bit size, no moov) to ffprobe', async () => {
    const cut = mp4([[fullBox('stsz', 1, 80_000_000)]], 100).subarray(0, 60); // the moov is gone
    await expect(checkMp4Index(reader(cut), cut.length)).resolves.toBeUndefined();
    const garbage = Buffer.from('this is not an mp4 at all, just text that goes on');
    await expect(checkMp4Index(reader(garbage), garbage.length)).resolves.toBeUndefined();
    // A 64-bit mdat size before the moov is followed to it.
    const large = Buffer.alloc(16);
    large.writeUInt32BE(1, 0);
    large.write('mdat', 4, 'latin1');
    large.writeBigUInt64BE(16n + 8n, 8);
    const file = Buffer.concat([large, Buffer.alloc(8), boxOf('moov', boxOf('trak', fullBox('stsz', 1, 1_000_000)))]);
    await expect(checkMp4Index(reader(file), file.length)).rejects.toMatchObject({ name: 'CorruptIndex' });
  });
});
