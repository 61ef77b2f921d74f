// A small MP4 box editor for hostile test inputs: rebuilds a file with some boxes replaced, every
// container's size recomputed. Made for files ffmpeg wrote (32-bit sizes, chunk offsets fixed up
// by the caller where the moov moves: tests keep the index at the end, after mdat, so nothing moves).
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'moof', 'traf', 'mvex', 'edts', 'dinf']);

/** A box's bytes, or another in its place; `path` is its ancestors' types then its own (`moov/trak/…/stsz`). */
export type Replace = (path: string, box: Buffer, index: { trak: number }) => Buffer | undefined;

function rebuild(bytes: Buffer, start: number, end: number, parent: string, replace: Replace, index: { trak: number }): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = start; offset + 8 <= end; ) {
    const size = bytes.readUInt32BE(offset) || end - offset;
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const path = parent ? `${parent}/${type}` : type;
    if (type === 'trak') index.trak += 1;
    const box = bytes.subarray(offset, offset + size);
    const replaced = replace(path, box, index);
    if (replaced) out.push(replaced);
    else if (CONTAINERS.has(type)) {
      const children = Buffer.concat(rebuild(bytes, offset + 8, offset + size, path, replace, index));
      out.push(boxOf(type, children));
    } else out.push(box);
    offset += size;
  }
  return out;
}

export function boxOf(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

export function rewriteBoxes(file: Buffer, replace: Replace): Buffer {
  return Buffer.concat(rebuild(file, 0, file.length, '', replace, { trak: 0 }));
}

/** A full box (version 0, no flags) of 32-bit fields. */
export function fullBox(type: string, ...fields: number[]): Buffer {
  const body = Buffer.alloc(4 + 4 * fields.length);
  for (const [i, value] of fields.entries()) body.writeUInt32BE(value, 4 + 4 * i);
  return boxOf(type, body);
}

/**
 * The file with track `track`'s sample tables declaring `samples` samples of `sampleSize` bytes each
 * (stsz with one size for all, stts with one run): what a crafted 6 KB file uses to make ffmpeg
 * allocate an index entry per declared sample.
 */
export function declaringSamples(file: Buffer, track: number, samples: number, sampleSize = 1): Buffer {
  return rewriteBoxes(file, (path, _box, index) => {
    if (index.trak !== track) return undefined;
    if (path.endsWith('/stbl/stsz')) return fullBox('stsz', sampleSize, samples);
    if (path.endsWith('/stbl/stts')) return fullBox('stts', 1, samples, 512);
    return undefined;
  });
}
