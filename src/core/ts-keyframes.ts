// Where a segment's keyframes are, as byte ranges an I-frame playlist names (RFC 8216 §4.3.3.6,
// Apple HLS authoring 6.1): each from the PAT and PMT just before the keyframe (a player that
// reads only that range learns the streams from them) to the last packet of the keyframe's PES.
// Read as the segment's bytes go by (a chunk at a time), so a segment is read once for its CRC-32
// and its keyframes together. Pure.

const PACKET = 188;
const SYNC = 0x47;
const PAT_PID = 0;

/** One keyframe of a segment: its range inside the segment's bytes and its presentation time. */
export interface Keyframe {
  offset: number;
  length: number;
  /** Seconds on the stream's 90 kHz clock. */
  pts: number;
}

/** A scanner fed a segment's bytes in order; `keyframes()` once they have all gone by. */
export interface KeyframeScanner {
  push(chunk: Uint8Array): void;
  keyframes(): Keyframe[];
}

function ptsOf(b: Uint8Array): number {
  return (((b[0]! >> 1) & 0x07) * 2 ** 30 + (b[1]! << 22) + ((b[2]! >> 1) << 15) + (b[3]! << 7) + (b[4]! >> 1)) / 90_000;
}

export function keyframeScanner(): KeyframeScanner {
  const found: Keyframe[] = [];
  let carry = Buffer.alloc(0);
  let position = 0; // of the first byte of `carry`
  let videoPid: number | undefined;
  /** Where the run of PAT/PMT packets just before this packet began (undefined after any other packet). */
  let tablesFrom: number | undefined;
  let pmtPid: number | undefined;
  /** The keyframe being read: its start, and the end of its last video packet so far. */
  let open: { offset: number; end: number; pts: number } | undefined;
  const close = () => {
    if (open) found.push({ offset: open.offset, length: open.end - open.offset, pts: open.pts });
    open = undefined;
  };
  const packet = (p: Uint8Array, at: number) => {
    if (p[0] !== SYNC) throw new RangeError(`not MPEG-TS: no sync byte at ${at}`);
    const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
    const start = (p[1]! & 0x40) !== 0;
    const adaptation = (p[3]! & 0x20) !== 0;
    const payload = 4 + (adaptation ? 1 + p[4]! : 0);
    if (pid === PAT_PID && start) {
      // The PAT names the PMT's PID: program_map_PID of the first program (section from byte 5 + pointer).
      const section = payload + 1 + p[payload]!;
      if (section + 12 <= PACKET) pmtPid = ((p[section + 10]! & 0x1f) << 8) | p[section + 11]!;
    }
    if (pid === PAT_PID || pid === pmtPid) {
      tablesFrom ??= at;
      return;
    }
    const tables = tablesFrom;
    if (pid !== videoPid || !start) tablesFrom = undefined;
    if (start && payload + 14 <= PACKET && p[payload] === 0 && p[payload + 1] === 0 && p[payload + 2] === 1) {
      const streamId = p[payload + 3]!;
      if (streamId >= 0xe0 && streamId <= 0xef) {
        videoPid ??= pid;
        if (pid === videoPid) {
          close();
          tablesFrom = undefined;
          // A keyframe: the random access indicator of its first packet's adaptation field.
          const randomAccess = adaptation && p[4]! > 0 && (p[5]! & 0x40) !== 0;
          const hasPts = (p[payload + 7]! & 0x80) !== 0;
          if (randomAccess && hasPts) open = { offset: tables ?? at, end: at + PACKET, pts: ptsOf(p.subarray(payload + 9, payload + 14)) };
          return;
        }
      }
    }
    if (open && pid === videoPid) open.end = at + PACKET;
  };
  return {
    push(chunk) {
      const bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let at = 0;
      for (; at + PACKET <= bytes.length; at += PACKET) packet(bytes.subarray(at, at + PACKET), position + at);
      // The rest waits for the next chunk (copied: the caller's buffer is reused).
      carry = Buffer.from(bytes.subarray(at));
      position += at;
    },
    keyframes() {
      close();
      return found;
    },
  };
}
