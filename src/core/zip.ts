// A stored (method 0) zip keeps every file's bytes verbatim right after its local file header,
// so a byte range inside the package is the file itself (APPNOTE.TXT §4.3.7, §4.4.5).
import { PackageMismatch } from './errors';

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
export const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
export const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
export const LOCAL_HEADER_FIXED_BYTES = 30;
export const CENTRAL_HEADER_FIXED_BYTES = 46;
export const END_OF_CENTRAL_DIRECTORY_BYTES = 22;
const FLAG_UTF8_NAME = 0x0800;
const METHOD_STORED = 0;
const VERSION_NEEDED = 10; // 1.0: stored entries, no zip64
/** Zip without zip64 caps sizes and offsets at 32 bits. */
export const MAX_STORED_BYTES = 0xffff_fffe;
// A fixed timestamp (1980-01-01 00:00) makes the same segment always give the same package
// bytes, hence the same CodeSha256: re-running a conversion finds its packages unchanged.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, as zip uses it) in JavaScript; pass the previous value to continue. */
export function crc32Js(data: Uint8Array, previous = 0): number {
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) {
    crc = (CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)) >>> 0;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// zlib's CRC-32 (Node ≥ 20.15 and 22.2) is the same function, many times faster. Looked up on
// first use: commands that never compute one do not load zlib.
let nativeCrc32: ((data: Uint8Array, value?: number) => number) | null | undefined;

/** CRC-32 (ISO 3309, as zip uses it); pass the previous value to continue over more bytes. */
export function crc32(data: Uint8Array, previous = 0): number {
  nativeCrc32 ??= (require('node:zlib') as { crc32?: (data: Uint8Array, value?: number) => number }).crc32 ?? null;
  return nativeCrc32 ? nativeCrc32(data, previous) >>> 0 : crc32Js(data, previous);
}

export interface StoredEntry {
  name: string;
  /** Offset of the entry's first data byte within the zip. */
  dataOffset: number;
  size: number;
  crc32: number;
}

function isAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

function checkEntryName(name: string): Buffer {
  const encoded = Buffer.from(name, 'utf8');
  if (encoded.length === 0 || encoded.length > 0xffff) {
    throw new RangeError(`zip entry name must be 1 to 65535 bytes, got ${encoded.length}`);
  }
  return encoded;
}

/**
 * The run of fields the local header (at 4) and the central header (at 6) share: version needed,
 * flags, method, time, date, CRC-32, both sizes, name length, extra length (APPNOTE §4.3.7, §4.3.12).
 */
function writeSharedFields(buf: Buffer, at: number, flags: number, crc: number, size: number, nameLength: number): void {
  buf.writeUInt16LE(VERSION_NEEDED, at);
  buf.writeUInt16LE(flags, at + 2);
  buf.writeUInt16LE(METHOD_STORED, at + 4);
  buf.writeUInt16LE(DOS_TIME, at + 6);
  buf.writeUInt16LE(DOS_DATE, at + 8);
  buf.writeUInt32LE(crc, at + 10);
  buf.writeUInt32LE(size, at + 14);
  buf.writeUInt32LE(size, at + 18);
  buf.writeUInt16LE(nameLength, at + 22);
  buf.writeUInt16LE(0, at + 24); // no extra field
}

/** Zip bytes around one stored entry besides its data: local and central header, each with the name. */
export function storedEntryOverhead(name: string): number {
  return LOCAL_HEADER_FIXED_BYTES + CENTRAL_HEADER_FIXED_BYTES + 2 * Buffer.byteLength(name, 'utf8');
}

/** The end-of-central-directory record every zip ends with. */
export const STORED_ZIP_END_BYTES = END_OF_CENTRAL_DIRECTORY_BYTES;

/** What a stored entry is before its bytes are read: name, size and CRC-32 known up front. */
export interface StoredEntrySpec {
  name: string;
  size: number;
  crc32: number;
}

/**
 * The bytes of a stored zip around its entries' data: each entry's local header, and the central
 * directory with its end record. Sizes and CRC-32s are known in advance, so the headers come
 * first and the data can stream through (no data descriptors: a reader finds every entry from
 * its local header alone).
 */
export interface StoredZipLayout {
  entries: StoredEntry[];
  localHeaders: Buffer[];
  tail: Buffer;
  /** Total bytes of the zip. */
  size: number;
}

export function layoutStoredZip(specs: readonly StoredEntrySpec[]): StoredZipLayout {
  const localHeaders: Buffer[] = [];
  const central: Buffer[] = [];
  const entries: StoredEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    const name = checkEntryName(spec.name);
    if (spec.size > MAX_STORED_BYTES || offset > MAX_STORED_BYTES) {
      throw new RangeError('zip without zip64 holds at most 4 GiB');
    }
    const flags = isAscii(spec.name) ? 0 : FLAG_UTF8_NAME;
    const local = Buffer.alloc(LOCAL_HEADER_FIXED_BYTES + name.length);
    local.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
    writeSharedFields(local, 4, flags, spec.crc32, spec.size, name.length);
    name.copy(local, LOCAL_HEADER_FIXED_BYTES);
    const header = Buffer.alloc(CENTRAL_HEADER_FIXED_BYTES);
    header.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
    header.writeUInt16LE((3 << 8) | VERSION_NEEDED, 4); // made by: UNIX
    writeSharedFields(header, 6, flags, spec.crc32, spec.size, name.length);
    header.writeUInt16LE(0, 32); // comment
    header.writeUInt16LE(0, 34); // disk
    header.writeUInt16LE(0, 36); // internal attributes
    header.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external: regular file, rw-r--r--
    header.writeUInt32LE(offset, 42);
    const dataOffset = offset + local.length;
    localHeaders.push(local);
    central.push(header, name);
    entries.push({ name: spec.name, dataOffset, size: spec.size, crc32: spec.crc32 });
    offset = dataOffset + spec.size;
  }
  const centralBytes = central.reduce((sum, part) => sum + part.length, 0);
  const end = Buffer.alloc(END_OF_CENTRAL_DIRECTORY_BYTES);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(specs.length, 8);
  end.writeUInt16LE(specs.length, 10);
  end.writeUInt32LE(centralBytes, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  const tail = Buffer.concat([...central, end]);
  return { entries, localHeaders, tail, size: offset + tail.length };
}

/**
 * Streams a stored zip: each local header, then the entry's bytes as `data(i)` yields them, then
 * the central directory. Each entry's bytes are counted and their CRC-32 computed on the way; a
 * mismatch with the layout stops the stream (PackageMismatch), so a package never holds other
 * bytes than the ones its headers promise.
 */
export async function* streamStoredZip(
  layout: StoredZipLayout,
  data: (index: number) => AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>,
): AsyncGenerator<Buffer> {
  for (const [i, entry] of layout.entries.entries()) {
    yield layout.localHeaders[i]!;
    let size = 0;
    let crc = 0;
    for await (const chunk of await data(i)) {
      size += chunk.length;
      if (size > entry.size) break;
      crc = crc32(chunk, crc);
      yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    if (size !== entry.size || crc !== entry.crc32) {
      throw new PackageMismatch(
        `${entry.name}: read ${size} bytes with CRC-32 ${crc.toString(16)}, expected ${entry.size} bytes with ${entry.crc32.toString(16)}`,
      );
    }
  }
  yield layout.tail;
}

export interface LocalHeader {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Bytes from the header's start to the first data byte: 30 + name length + extra length. */
  headerLength: number;
}

/**
 * Parses the local file header at the start of `bytes`. Returns the number of bytes still needed
 * when `bytes` stops inside the header's variable part.
 */
export function parseLocalHeader(bytes: Uint8Array): LocalHeader | { needBytes: number } {
  if (bytes.length < LOCAL_HEADER_FIXED_BYTES) return { needBytes: LOCAL_HEADER_FIXED_BYTES };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
    throw new RangeError('not a zip local file header (bad signature)');
  }
  const nameLength = view.readUInt16LE(26);
  const extraLength = view.readUInt16LE(28);
  const headerLength = LOCAL_HEADER_FIXED_BYTES + nameLength + extraLength;
  if (bytes.length < headerLength) return { needBytes: headerLength };
  return {
    name: view.toString('utf8', LOCAL_HEADER_FIXED_BYTES, LOCAL_HEADER_FIXED_BYTES + nameLength),
    flags: view.readUInt16LE(6),
    method: view.readUInt16LE(8),
    crc32: view.readUInt32LE(14),
    compressedSize: view.readUInt32LE(18),
    uncompressedSize: view.readUInt32LE(22),
    headerLength,
  };
}
