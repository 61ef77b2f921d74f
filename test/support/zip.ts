// Zip code only the tests need: a whole stored zip written in memory (to compare with what the
// product streams) and a central-directory reader (to look inside packages and bundles).
import {
  CENTRAL_HEADER_FIXED_BYTES,
  CENTRAL_HEADER_SIGNATURE,
  crc32,
  END_OF_CENTRAL_DIRECTORY_BYTES,
  END_OF_CENTRAL_DIRECTORY_SIGNATURE,
  layoutStoredZip,
  type StoredEntry,
} from '../../src/core/zip';

export interface ZipEntryInput {
  name: string;
  data: Uint8Array;
}

export interface StoredZip {
  bytes: Buffer;
  entries: StoredEntry[];
}

/** Writes a zip whose entries are all stored uncompressed, with correct CRC-32s. */
export function writeStoredZip(entries: readonly ZipEntryInput[]): StoredZip {
  const layout = layoutStoredZip(entries.map((e) => ({ name: e.name, size: e.data.length, crc32: crc32(e.data) })));
  const parts: Buffer[] = [];
  entries.forEach((entry, i) => {
    parts.push(layout.localHeaders[i]!, Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength));
  });
  return { bytes: Buffer.concat([...parts, layout.tail]), entries: layout.entries };
}

export interface CentralEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

/**
 * Reads the central directory from the tail of a zip (`tail` holds the file's last bytes and
 * `tailOffset` is where they start). Returns the bytes still needed when the directory begins
 * before `tail`.
 */
export function parseCentralDirectory(tail: Uint8Array, tailOffset: number): CentralEntry[] | { needFromOffset: number } {
  const view = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  let end = -1;
  for (let i = view.length - END_OF_CENTRAL_DIRECTORY_BYTES; i >= 0; i--) {
    if (view.readUInt32LE(i) === END_OF_CENTRAL_DIRECTORY_SIGNATURE) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new RangeError('no end-of-central-directory record in the zip tail');
  const count = view.readUInt16LE(end + 10);
  const size = view.readUInt32LE(end + 12);
  const start = view.readUInt32LE(end + 16);
  if (start < tailOffset) return { needFromOffset: start };
  const entries: CentralEntry[] = [];
  let at = start - tailOffset;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_HEADER_FIXED_BYTES > end || view.readUInt32LE(at) !== CENTRAL_HEADER_SIGNATURE) {
      throw new RangeError(`central directory entry ${i} is malformed`);
    }
    const nameLength = view.readUInt16LE(at + 28);
    const extraLength = view.readUInt16LE(at + 30);
    const commentLength = view.readUInt16LE(at + 32);
    entries.push({
      name: view.toString('utf8', at + CENTRAL_HEADER_FIXED_BYTES, at + CENTRAL_HEADER_FIXED_BYTES + nameLength),
      method: view.readUInt16LE(at + 10),
      crc32: view.readUInt32LE(at + 16),
      compressedSize: view.readUInt32LE(at + 20),
      uncompressedSize: view.readUInt32LE(at + 24),
      localHeaderOffset: view.readUInt32LE(at + 42),
    });
    at += CENTRAL_HEADER_FIXED_BYTES + nameLength + extraLength + commentLength;
  }
  if (at - (start - tailOffset) !== size) throw new RangeError('central directory size does not match its entries');
  return entries;
}
