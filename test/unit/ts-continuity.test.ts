// MPEG-TS continuity counters across a transcode's chunks (src/core/ts-continuity.ts).
import fc from 'fast-check';
import { continuation, continuityBreaks, firstCounters, lastCounters, shiftCounters } from '../../src/core/ts-continuity';

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

  it('refuses bytes that are not MPEG-TS', () => {
    expect(() => firstCounters(new Uint8Array(188))).toThrow('not MPEG-TS');
  });
});
