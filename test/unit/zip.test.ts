import fc from 'fast-check';
import { crc32, parseCentralDirectory, parseLocalHeader, writeStoredZip } from '../../src/core/zip';

describe('crc32', () => {
  it('matches the standard check value for "123456789"', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('gives the same value when computed in pieces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), (data, cut) => {
        const at = data.length === 0 ? 0 : cut % data.length;
        expect(crc32(data.subarray(at), crc32(data.subarray(0, at)))).toBe(crc32(data));
      }),
    );
  });
});

describe('stored zip', () => {
  const name = fc.string({ minLength: 1, maxLength: 120, unit: 'grapheme' }).filter((s) => Buffer.byteLength(s) <= 400);

  it('puts the parsed offset of any entry at the first byte of its data', () => {
    fc.assert(
      fc.property(name, fc.uint8Array({ maxLength: 4096 }), (entryName, data) => {
        const zip = writeStoredZip([{ name: entryName, data }]);
        const header = parseLocalHeader(zip.bytes);
        if ('needBytes' in header) throw new Error('whole zip given, header incomplete');
        expect(header.name).toBe(entryName);
        expect(header.method).toBe(0);
        expect(header.compressedSize).toBe(data.length);
        expect(header.uncompressedSize).toBe(data.length);
        expect(header.crc32).toBe(crc32(data));
        expect(header.headerLength).toBe(zip.entries[0]!.dataOffset);
        expect(Buffer.compare(zip.bytes.subarray(header.headerLength, header.headerLength + data.length), Buffer.from(data))).toBe(0);
      }),
    );
  });

  it('lists every entry in the central directory with offsets that point at its data', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.uint8Array({ maxLength: 512 })), { minLength: 1, maxLength: 6 }), (items) => {
        const zip = writeStoredZip(items.map(([n, data]) => ({ name: n, data })));
        const entries = parseCentralDirectory(zip.bytes, 0);
        if (!Array.isArray(entries)) throw new Error('tail covers the whole zip');
        expect(entries).toHaveLength(items.length);
        entries.forEach((entry, i) => {
          const header = parseLocalHeader(zip.bytes.subarray(entry.localHeaderOffset));
          if ('needBytes' in header) throw new Error('header incomplete');
          const start = entry.localHeaderOffset + header.headerLength;
          expect(start).toBe(zip.entries[i]!.dataOffset);
          expect(Buffer.from(zip.bytes.subarray(start, start + entry.compressedSize))).toEqual(Buffer.from(items[i]![1]));
        });
      }),
    );
  });

  it('asks for more bytes when a ranged read stops inside the header', () => {
    const zip = writeStoredZip([{ name: 'a-rather-long-segment-name.ts', data: Buffer.alloc(10) }]);
    expect(parseLocalHeader(zip.bytes.subarray(0, 10))).toEqual({ needBytes: 30 });
    expect(parseLocalHeader(zip.bytes.subarray(0, 35))).toEqual({ needBytes: 30 + 'a-rather-long-segment-name.ts'.length });
  });

  it('says where the central directory starts when the tail read is too short', () => {
    const zip = writeStoredZip([{ name: 'x.ts', data: Buffer.alloc(1000, 7) }]);
    const tailStart = zip.bytes.length - 30;
    const result = parseCentralDirectory(zip.bytes.subarray(tailStart), tailStart);
    expect(result).toEqual({ needFromOffset: 30 + 4 + 1000 });
  });

  it('writes identical bytes for identical input, so re-runs find their packages unchanged', () => {
    const a = writeStoredZip([{ name: '00001.ts', data: Buffer.from('same') }]);
    const b = writeStoredZip([{ name: '00001.ts', data: Buffer.from('same') }]);
    expect(a.bytes.equals(b.bytes)).toBe(true);
  });

  it('rejects data that is not a local file header', () => {
    expect(() => parseLocalHeader(Buffer.alloc(64))).toThrow(/signature/);
  });
});
