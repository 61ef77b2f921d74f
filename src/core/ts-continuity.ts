// MPEG-TS continuity counters across segments (Apple HLS authoring 7.2: they MUST be sequential):
// a 4-bit counter per PID that grows by one with every packet that carries payload. One ffmpeg run
// keeps them going from segment to segment; a transcode's chunks are separate runs, so each chunk
// starts again at 0, and JoinChunks shifts every later chunk's counters to continue the one before.
// Pure: 188-byte packets in a buffer, changed in place. Also where a segment's picture starts.

const PACKET = 188;
const SYNC = 0x47;
const NULL_PID = 0x1fff;

/** Each packet with payload: its offset in the buffer and its PID. */
export function* payloadPackets(ts: Uint8Array): Generator<{ at: number; pid: number }> {
  for (let at = 0; at + PACKET <= ts.length; at += PACKET) {
    if (ts[at] !== SYNC) throw new RangeError(`not MPEG-TS: no sync byte at ${at}`);
    const pid = ((ts[at + 1]! & 0x1f) << 8) | ts[at + 2]!;
    const hasPayload = (ts[at + 3]! & 0x10) !== 0;
    if (pid !== NULL_PID && hasPayload) yield { at, pid };
  }
}

/** The counter of each PID's first packet with payload. */
export function firstCounters(ts: Uint8Array): Map<number, number> {
  const first = new Map<number, number>();
  for (const { at, pid } of payloadPackets(ts)) if (!first.has(pid)) first.set(pid, ts[at + 3]! & 0x0f);
  return first;
}

/** The counter of each PID's last packet with payload. */
export function lastCounters(ts: Uint8Array): Map<number, number> {
  const last = new Map<number, number>();
  for (const { at, pid } of payloadPackets(ts)) last.set(pid, ts[at + 3]! & 0x0f);
  return last;
}

/** Shifts by which a stream starting with `first` continues one that ended with `previous` (PIDs in both only). */
export function continuation(previous: Map<number, number>, first: Map<number, number>): Map<number, number> {
  const shifts = new Map<number, number>();
  for (const [pid, counter] of first) {
    const ended = previous.get(pid);
    if (ended === undefined) continue;
    const shift = (ended + 1 - counter + 16) & 0x0f;
    if (shift !== 0) shifts.set(pid, shift);
  }
  return shifts;
}

/** Adds each PID's shift to the counter of its packets with payload, modulo 16. */
export function shiftCounters(ts: Uint8Array, shifts: Map<number, number>): void {
  if (shifts.size === 0) return;
  for (const { at, pid } of payloadPackets(ts)) {
    const shift = shifts.get(pid);
    if (shift !== undefined) ts[at + 3] = (ts[at + 3]! & 0xf0) | ((ts[at + 3]! + shift) & 0x0f);
  }
}

/** Packets with payload whose counter does not follow the one before on its PID (a repeated counter, a duplicate, counts as following). */
export function continuityBreaks(ts: Uint8Array): { pid: number; at: number; expected: number; found: number }[] {
  const last = new Map<number, number>();
  const breaks: { pid: number; at: number; expected: number; found: number }[] = [];
  for (const { at, pid } of payloadPackets(ts)) {
    const counter = ts[at + 3]! & 0x0f;
    const previous = last.get(pid);
    if (previous !== undefined && counter !== ((previous + 1) & 0x0f) && counter !== previous)
      breaks.push({ pid, at, expected: (previous + 1) & 0x0f, found: counter });
    last.set(pid, counter);
  }
  return breaks;
}

/** PES stream ids (ISO/IEC 13818-1 table 2-22): MPEG audio streams 0xC0-0xDF, video 0xE0-0xEF. */
export const VIDEO_STREAMS = (id: number) => id >= 0xe0 && id <= 0xef;
export const AUDIO_OR_VIDEO_STREAMS = (id: number) => id >= 0xc0 && id <= 0xef;

/**
 * The earliest presentation time (seconds, on the stream's 90 kHz clock) of a PES in the buffer
 * whose stream id `accept` takes. Of video, where its picture starts showing (the first frame in
 * decode order may show later than a B-frame that follows it); of audio and video, where a player
 * like hls.js puts its timeline's 0. Undefined without such a PES that carries a PTS.
 */
export function earliestPts(ts: Uint8Array, accept: (streamId: number) => boolean): number | undefined {
  let earliest: number | undefined;
  for (const { at } of payloadPackets(ts)) {
    if ((ts[at + 1]! & 0x40) === 0) continue; // not the start of a PES
    const adaptation = (ts[at + 3]! & 0x20) !== 0 ? 1 + ts[at + 4]! : 0;
    const pes = at + 4 + adaptation;
    if (pes + 14 > at + PACKET || ts[pes] !== 0 || ts[pes + 1] !== 0 || ts[pes + 2] !== 1) continue;
    if (!accept(ts[pes + 3]!) || (ts[pes + 7]! & 0x80) === 0) continue;
    const b = ts.subarray(pes + 9, pes + 14);
    const pts = ((b[0]! >> 1) & 0x07) * 2 ** 30 + (b[1]! << 22) + ((b[2]! >> 1) << 15) + (b[3]! << 7) + (b[4]! >> 1);
    const seconds = pts / 90_000;
    if (earliest === undefined || seconds < earliest) earliest = seconds;
  }
  return earliest;
}

/** The earliest presentation time of a video PES in the buffer (see earliestPts). */
export function earliestVideoPts(ts: Uint8Array): number | undefined {
  return earliestPts(ts, VIDEO_STREAMS);
}
