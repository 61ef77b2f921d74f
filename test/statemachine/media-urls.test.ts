// The npm ffmpeg and ffprobe crash (exit 139) resolving a host name, and in AWS the input is a
// presigned URL under one. The media tool opens such URLs through a relay on 127.0.0.1.
import { createReadStream, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { needsLoopback } from '../../src/adapters/ffmpeg/loopback';
import { DEFAULT_LIMITS, ffmpegMediaTool } from '../../src/adapters/ffmpeg/media-tool';
import { parseRange } from '../../src/core/byte-range';
import { makeVideo, tempDir } from '../support/fixtures';

let server: Server;
let port: number;
const requests: { path: string; range?: string }[] = [];
let clip: string;

beforeAll(async () => {
  const dir = tempDir('media-urls');
  // moov at the end (ffmpeg's default): reading it takes ranged requests far into the file.
  clip = makeVideo(join(dir, 'lecture.mp4'), { seconds: 6, size: '320x180' });
  server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', ...(req.headers.range && { range: req.headers.range }) });
    const size = statSync(clip).size;
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    res.writeHead(range ? 206 : 200, {
      'Content-Type': 'video/mp4',
      'Accept-Ranges': 'bytes',
      'Content-Length': String(end - start + 1),
      ...(range && { 'Content-Range': `bytes ${start}-${end}/${size}` }),
    });
    createReadStream(clip, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('media inputs addressed by host name, as presigned URLs are', () => {
  it('relays every URL, names and addresses alike, and no path', () => {
    expect(needsLoopback('https://in-bucket.s3.eu-west-1.amazonaws.com/a.mp4?X-Amz-Signature=x')).toBe(true);
    expect(needsLoopback('http://localhost:9000/a.mp4')).toBe(true);
    expect(needsLoopback('http://127.0.0.1:9000/a.mp4')).toBe(true);
    expect(needsLoopback('/tmp/a.mp4')).toBe(false);
    expect(needsLoopback('/tmp/http:/a.mp4')).toBe(false);
  });

  it('probes a URL on localhost with the npm ffprobe, the query string reaching the server', async () => {
    requests.length = 0;
    const probe = await ffmpegMediaTool().probe(`http://localhost:${port}/bucket/lecture.mp4?X-Amz-Signature=abc`, 'mp4');
    expect(probe).toMatchObject({ video: { codec: 'h264', width: 320, height: 180 } });
    expect(probe.durationSeconds).toBeCloseTo(6, 0);
    expect(requests.every((r) => r.path === '/bucket/lecture.mp4?X-Amz-Signature=abc')).toBe(true);
    expect(requests.some((r) => r.range && !r.range.startsWith('bytes=0-'))).toBe(true); // it sought
  });

  it('segments a URL on localhost with the npm ffmpeg, and closes the relay when done', async () => {
    const outDir = tempDir('media-urls-out');
    const seen: number[] = [];
    const input = `http://localhost:${port}/bucket/lecture.mp4`;
    for await (const file of await ffmpegMediaTool().segment({
      input,
      format: 'mp4',
      durationSeconds: 6,
      plan: { video: 'copy', audio: 'copy' },
      segmentSeconds: 2,
      outDir,
    })) {
      seen.push(file.index);
      rmSync(file.path);
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(readdirSync(outDir).filter((f) => f.endsWith('.ts'))).toEqual([]);
  });

  it('says NotMedia, not a crash, when the server behind the name is gone', async () => {
    await expect(ffmpegMediaTool().probe('http://localhost:1/lecture.mp4', 'mp4')).rejects.toMatchObject({ name: 'NotMedia' });
  });

  describe('time limits: an input that stops answering does not hang a step', () => {
    /** A server that sends the first `bytes` of the clip, then nothing, holding the connection open. */
    async function stallingAfter(bytes: number) {
      const held: import('node:http').ServerResponse[] = [];
      const stalling = createServer((req, res) => {
        const size = statSync(clip).size;
        const range = parseRange(req.headers.range, size);
        const start = range === 'unsatisfiable' || !range ? 0 : range.start;
        res.writeHead(206, { 'Content-Range': `bytes ${start}-${size - 1}/${size}`, 'Content-Length': String(size - start) });
        if (start < bytes) createReadStream(clip, { start, end: bytes - 1 }).on('data', (chunk) => res.write(chunk));
        held.push(res);
      });
      await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
      return {
        url: `http://localhost:${(stalling.address() as { port: number }).port}/lecture.mp4`,
        close: () =>
          new Promise<void>((resolve) => {
            for (const res of held) res.destroy();
            stalling.close(() => resolve());
          }),
      };
    }
    const limits = { ...DEFAULT_LIMITS, probeMs: 1500, stallMs: 1500, networkMs: 60_000 };

    it('gives up on ffprobe after its time limit, as NotMedia saying so', async () => {
      const server = await stallingAfter(0);
      try {
        const started = Date.now();
        await expect(ffmpegMediaTool({}, limits).probe(server.url, 'mp4')).rejects.toMatchObject({
          name: 'NotMedia',
          message: 'ffprobe did not finish reading it as MP4 within 1.5 s',
        });
        expect(Date.now() - started).toBeLessThan(15_000);
      } finally {
        await server.close();
      }
    });

    it('stops ffmpeg when its position in the input stops moving, as SegmentationFailed saying where', async () => {
      // The index is at the end of this clip, so ffmpeg reads it, then stalls on the media.
      const size = statSync(clip).size;
      const server = await stallingAfter(Math.floor(size / 3));
      const outDir = tempDir('media-urls-stall');
      try {
        const run = async () => {
          for await (const file of await ffmpegMediaTool({}, limits).segment({
            input: server.url,
            format: 'mp4',
            durationSeconds: 6,
            plan: { video: 'copy', audio: 'copy' },
            segmentSeconds: 1,
            outDir,
          }))
            rmSync(file.path);
        };
        await expect(run()).rejects.toMatchObject({
          name: 'SegmentationFailed',
          message: expect.stringMatching(/^ffmpeg stopped making progress at \d+\.\d s of the input and was stopped after 1\.5 s$/),
        });
      } finally {
        await server.close();
      }
    });
  });
});
