import fc from 'fast-check';
import { crc32, crc32Js, layoutStoredZip, parseLocalHeader, streamStoredZip } from '../../src/core/zip';
import { parseCentralDirectory, writeStoredZip } from '../support/zip';
import { PackageMismatch } from '../../src/core/errors';

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

describe('streamStoredZip', () => {
  const chunked = (data: Uint8Array, size: number) =>
    (async function* () {
      for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
    })();
  const collect = async (chunks: AsyncIterable<Buffer>) => {
    const parts: Buffer[] = [];
    for await (const c of chunks) parts.push(c);
    return Buffer.concat(parts);
  };

  it('streams exactly the bytes writeStoredZip writes, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 64 }),
        async (files, chunk) => {
          const entries = files.map((data, i) => ({ name: `${String(i).padStart(5, '0')}.ts`, data }));
          const layout = layoutStoredZip(entries.map((e) => ({ name: e.name, size: e.data.length, crc32: crc32(e.data) })));
          const streamed = await collect(streamStoredZip(layout, (i) => chunked(entries[i]!.data, chunk)));
          expect(streamed).toEqual(writeStoredZip(entries).bytes);
          expect(streamed.length).toBe(layout.size);
        },
      ),
    );
  });

  it('stops with PackageMismatch when an entry has other bytes than its header promises', async () => {
    const data = Buffer.from('segment bytes');
    const layout = layoutStoredZip([{ name: '00000.ts', size: data.length, crc32: crc32(data) }]);
    await expect(collect(streamStoredZip(layout, () => chunked(Buffer.from('segment bytez'), 4)))).rejects.toThrow(PackageMismatch);
    await expect(collect(streamStoredZip(layout, () => chunked(data.subarray(1), 4)))).rejects.toThrow(/read 12 bytes/);
    await expect(collect(streamStoredZip(layout, () => chunked(Buffer.concat([data, data]), 4)))).rejects.toThrow(PackageMismatch);
  });

  it('uses a CRC-32 equal to the JavaScript one', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), (data, seed) => {
        expect(crc32(data, seed >>> 0)).toBe(crc32Js(data, seed >>> 0));
      }),
    );
  });
});
