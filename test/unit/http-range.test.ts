// The code stores' ranged reads of a package URL: the buffered one (ComputeOffsets) and the
// streamed one (the delivery route), against a server that answers as S3 and the local server do.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TransientNetworkError } from '../../src/core/errors';
import { readRange, streamRange, UrlRefused } from '../../src/adapters/http-range';

const PACKAGE = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((request, response) => {
    const path = request.url ?? '';
    if (path === '/expired') return void response.writeHead(403).end('<Error>AccessDenied</Error>');
    if (path === '/busy') return void response.writeHead(503).end('SlowDown');
    if (path === '/whole') return void response.writeHead(200, { 'Content-Length': PACKAGE.length }).end(PACKAGE);
    const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '') ?? [];
    const body = PACKAGE.subarray(Number(from), Number(to) + 1);
    response.writeHead(206, { 'Content-Range': `bytes ${from}-${to}/${PACKAGE.length}`, 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

describe('a ranged read of a package URL', () => {
  it('streams exactly the bytes asked for, first and last inclusive', async () => {
    const stream = await streamRange(`${base}/package`, 1000, 2999);
    expect(stream).not.toBe('refused');
    expect((await collect(stream as AsyncIterable<Uint8Array>)).equals(PACKAGE.subarray(1000, 3000))).toBe(true);
    expect((await readRange(`${base}/package`, 1000, 2999)).equals(PACKAGE.subarray(1000, 3000))).toBe(true);
  });

  it('says refused for a URL S3 refuses (expired, tampered with, gone): the route asks for a fresh one', async () => {
    await expect(streamRange(`${base}/expired`, 0, 9)).resolves.toBe('refused');
    await expect(readRange(`${base}/expired`, 0, 9)).rejects.toBeInstanceOf(UrlRefused);
  });

  it('fails transiently on a 5xx, and a stream on any answer but a 206 (it cannot be sliced as it passes)', async () => {
    await expect(streamRange(`${base}/busy`, 0, 9)).rejects.toBeInstanceOf(TransientNetworkError);
    await expect(streamRange(`${base}/whole`, 0, 9)).rejects.toThrow('package URL answered 200 to a ranged read');
    // Buffered, a whole answer is sliced.
    expect((await readRange(`${base}/whole`, 10, 19)).equals(PACKAGE.subarray(10, 20))).toBe(true);
  });
});
