// What a segment's streams are, read from its bytes, as RFC 6381 names them for an HLS variant's
// CODECS attribute (RFC 8216 §4.3.4.2): `avc1.<profile><constraints><level>` from the H.264
// sequence parameter set, `mp4a.40.<object type>` from the first ADTS header. Pure.
import { payloadPackets } from './ts-continuity';

const PACKET = 188;

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/** The payload of each PES of one kind (video or audio), in packet order, up to `limit` bytes. */
function elementaryBytes(ts: Uint8Array, isKind: (streamId: number) => boolean, limit: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let pid: number | undefined;
  let total = 0;
  for (const { at, pid: packetPid } of payloadPackets(ts)) {
    const adaptation = (ts[at + 3]! & 0x20) !== 0 ? 1 + ts[at + 4]! : 0;
    let from = at + 4 + adaptation;
    const start = (ts[at + 1]! & 0x40) !== 0;
    if (pid === undefined) {
      // The first PES of the kind names the PID the rest of it comes on.
      if (!start || ts[from] !== 0 || ts[from + 1] !== 0 || ts[from + 2] !== 1 || !isKind(ts[from + 3]!)) continue;
      pid = packetPid;
    }
    if (packetPid !== pid) continue;
    if (start) from += 9 + ts[from + 8]!; // past the PES header
    if (from < at + PACKET) {
      parts.push(ts.subarray(from, at + PACKET));
      total += at + PACKET - from;
    }
    if (total >= limit) break;
  }
  return Buffer.concat(parts);
}

/** `avc1.PPCCLL` from the first sequence parameter set (NAL type 7), or undefined. */
export function h264Codec(ts: Uint8Array): string | undefined {
  const es = elementaryBytes(ts, (id) => id >= 0xe0 && id <= 0xef, 64 * 1024);
  for (let i = 0; i + 6 < es.length; i++) {
    if (es[i] === 0 && es[i + 1] === 0 && es[i + 2] === 1 && (es[i + 3]! & 0x1f) === 7) {
      return `avc1.${hex(es[i + 4]!)}${hex(es[i + 5]!)}${hex(es[i + 6]!)}`;
    }
  }
  return undefined;
}

/** `mp4a.40.<object type>` from the first ADTS header (object type = profile + 1: 2 is AAC-LC), or undefined. */
export function aacCodec(ts: Uint8Array): string | undefined {
  const es = elementaryBytes(ts, (id) => id >= 0xc0 && id <= 0xdf, 4096);
  for (let i = 0; i + 2 < es.length; i++) {
    if (es[i] === 0xff && (es[i + 1]! & 0xf6) === 0xf0) return `mp4a.40.${((es[i + 2]! >> 6) & 0x03) + 1}`;
  }
  return undefined;
}

/** The CODECS a variant of this segment declares: its picture's, then its sound's ("avc1.64001f,mp4a.40.2"). */
export function segmentCodecs(ts: Uint8Array): string | undefined {
  const found = [h264Codec(ts), aacCodec(ts)].filter((c) => c !== undefined);
  return found.length > 0 ? found.join(',') : undefined;
}
