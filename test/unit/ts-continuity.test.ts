// MPEG-TS continuity counters across a transcode's chunks (src/core/ts-continuity.ts).
import fc from 'fast-check';
import { continuation, continuityBreaks, earliestVideoPts, firstCounters, lastCounters, shiftCounters } from '../../src/core/ts-continuity';

/** A run of TS packets as one muxer writes them: per PID a counter from 0, +1 with every packet with payload. */
function muxed(pids: number[], withoutPayload: Set<number> = new Set()): Uint8Array {
  const counters = new Map<number, number>();
  const ts = new Uint8Array(pids.length * 188);
  pids.forEach((pid, i) => {
    const at = i * 188;
    const payload = !withoutPayload.has(i);
    const counter = counters.get(pid) ?? 0;
    ts[at] = 0x47;
    ts[at + 1] = (pid >> 8) & 0x1f;
    ts[at + 2] = pid & 0xff;
    ts[at + 3] = (payload ? 0x10 : 0x20) | counter;
    if (payload) counters.set(pid, (counter + 1) & 0x0f);
  });
  return ts;
}

const concat = (...parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

describe('continuity counters across chunks', () => {
  it('finds the break where a second run starts again at 0, and none once it is shifted to continue the first', () => {
    // PAT and PMT twice in the first run (one packet each again would be a legal duplicate, not a break).
    const one = muxed([0, 4096, 256, 256, 256, 257, 0, 4096, 256, 257]);
    const two = muxed([0, 4096, 256, 257, 256]);
    expect(continuityBreaks(concat(one, two)).map((b) => b.pid)).toEqual([0, 4096, 256, 257]);
    const shifts = continuation(lastCounters(one), firstCounters(two));
    expect(shifts).toEqual(
      new Map([
        [0, 2],
        [4096, 2],
        [256, 4],
        [257, 2],
      ]),
    );
    shiftCounters(two, shifts);
    expect(continuityBreaks(concat(one, two))).toEqual([]);
  });

  it('leaves packets without payload, the null PID and a PID the first run lacks alone', () => {
    const one = muxed([256, 256]);
    const two = muxed([256, 0x1fff, 256, 300], new Set([1]));
    const before = Buffer.from(two);
    shiftCounters(two, continuation(lastCounters(one), firstCounters(two)));
    expect([two[188 + 3], two[3 * 188 + 3]]).toEqual([before[188 + 3], before[3 * 188 + 3]]);
    expect(continuityBreaks(concat(one, two))).toEqual([]);
  });

  it('joins any runs of any packets into one stream without a break', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.constantFrom(0, 17, 4096, 256, 257), { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 6 }),
        (runs) => {
          const joined: Uint8Array[] = [];
          for (const pids of runs) {
            const run = muxed(pids);
            const previous = joined.at(-1);
            if (previous) shiftCounters(run, continuation(lastCounters(concat(...joined)), firstCounters(run)));
            joined.push(run);
          }
          expect(continuityBreaks(concat(...joined))).toEqual([]);
        },
      ),
    );
  });

  it("finds where a segment's picture starts: the earliest PTS of its video PES, not the first one's", () => {
    /** A packet starting a PES of `streamId` with this PTS (90 kHz). */
    const pes = (pid: number, streamId: number, pts: number) => {
      const packet = new Uint8Array(188);
      packet.set([0x47, 0x40 | (pid >> 8), pid & 0xff, 0x10, 0, 0, 1, streamId, 0, 0, 0x80, 0x80, 5]);
      packet.set(
        [
          0x21 | ((Math.floor(pts / 2 ** 30) & 7) << 1),
          (pts >> 22) & 0xff,
          (((pts >> 15) & 0x7f) << 1) | 1,
          (pts >> 7) & 0xff,
          ((pts & 0x7f) << 1) | 1,
        ],
        13,
      );
      return packet;
    };
    // Decode order I (shown at 0.0667), B (0.0), B (0.0333); an audio PES earlier still is not the picture.
    const ts = concat(pes(256, 0xe0, 6000), pes(257, 0xc0, 0), pes(256, 0xe0, 0), pes(256, 0xe0, 3000));
    expect(earliestVideoPts(ts)).toBe(0);
    expect(earliestVideoPts(concat(pes(256, 0xe0, 6000), pes(256, 0xe0, 9000)))).toBeCloseTo(6000 / 90_000, 9);
    expect(earliestVideoPts(concat(pes(257, 0xc0, 100)))).toBeUndefined();
    // Beyond 2^32 ticks too (the PTS is 33 bits).
    expect(earliestVideoPts(pes(256, 0xe0, 2 ** 32 + 90_000))).toBeCloseTo((2 ** 32 + 90_000) / 90_000, 6);
  });

  it('refuses bytes that are not MPEG-TS', () => {
    expect(() => firstCounters(new Uint8Array(188))).toThrow('not MPEG-TS');
  });
});
