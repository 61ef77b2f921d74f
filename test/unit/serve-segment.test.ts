import { gunzipSync } from 'node:zlib';
import {
  PackageUrlCache,
  parseHttpApiEvent,
  ROUTE_TTL_MS,
  ServeRecordCache,
  toHttpApiResult,
  URL_REFRESH_MARGIN_MS,
} from '../../src/playback/routes';
import { serveSegment } from '../../src/steps/serve-segment';
import type { RouteRecord } from '../../src/core/model';
import { keys } from '../../src/core/naming';
import { bufferSource, MemoryCodeStore, MemoryObjectStore } from '../support/memory';

const VIDEO = 'my-clip-1a2b3c';

async function setup() {
  let now = 1_000_000;
  const clock = () => now;
  const objects = new MemoryObjectStore();
  const code = new MemoryCodeStore(clock);
  await code.createPackage('seg-0', bufferSource(Buffer.from('zip-0')));
  await code.createPackage('seg-1', bufferSource(Buffer.from('zip-1')));
  const route: RouteRecord = {
    videoId: VIDEO,
    revision: 'abcd1234',
    sourceKey: 'my clip.mp4',
    kind: 'video',
    playlistKey: keys.playlist(VIDEO, 'abcd1234'),
    durationSeconds: 20,
    segmentCount: 2,
    packages: ['seg-0', 'seg-1'],
    registeredAt: new Date(0).toISOString(),
  };
  await objects.put('output', keys.route(VIDEO), JSON.stringify(route));
  await objects.put('output', route.playlistKey, '#EXTM3U\n');
  const urls = new PackageUrlCache(clock);
  const records = new ServeRecordCache(clock);
  const serve = (path: string, method = 'GET') => serveSegment({ method, path }, { objects, code, clock }, { urls });
  const serveCached = (path: string) => serveSegment({ method: 'GET', path }, { objects, code, clock }, { urls, records });
  return { serve, serveCached, records, code, urls, objects, advance: (ms: number) => (now += ms) };
}

describe('serve-segment', () => {
  it("answers a segment URI by the revision it names: the route's, a retired one's until its grace ends (then 410), never another's", async () => {
    const { serve, objects, code, advance } = await setup();
    await code.createPackage('old-0', bufferSource(Buffer.from('old zip-0')));
    const route = JSON.parse((await objects.get('output', keys.route(VIDEO))).toString()) as RouteRecord;
    const until = new Date(1_000_000 + 60_000).toISOString();
    const retired = [{ revision: 'ffff0000', packages: ['old-0'], playlistKey: keys.playlist(VIDEO, 'ffff0000'), until }];
    await objects.put('output', keys.route(VIDEO), JSON.stringify({ ...route, addressing: 'revision', retired }));
    expect((await serve(`/v/${VIDEO}/abcd1234/1.ts`)).headers.Location).toMatch(/^memory:\/\/code\/seg-1\?/);
    expect((await serve(`/v/${VIDEO}/ffff0000/0.ts`)).headers.Location).toMatch(/^memory:\/\/code\/old-0\?/);
    expect((await serve(`/v/${VIDEO}/ffff0000/1.ts`)).status).toBe(404); // the old revision had one package
    expect((await serve(`/v/${VIDEO}/0123abcd/0.ts`)).status).toBe(404); // a revision it never had
    // A playlist from before URIs named their revision: whichever it was, not this one's bytes.
    expect((await serve(`/v/${VIDEO}/0.ts`)).status).toBe(410);
    advance(60_000);
    const gone = await serve(`/v/${VIDEO}/ffff0000/0.ts`);
    expect([gone.status, gone.body]).toEqual([410, expect.stringContaining('converted again')]);
    expect((await serve(`/v/${VIDEO}/abcd1234/0.ts`)).status).toBe(302);
  });

  it('answers a legacy segment URI (/v/<id>/<n>.ts) 410 only where a replaced playlist of that addressing had it, 404 otherwise', async () => {
    const { serve, objects } = await setup();
    const route = JSON.parse((await objects.get('output', keys.route(VIDEO))).toString()) as RouteRecord;
    const until = new Date(1_000_000 + 60_000).toISOString();
    const retiredAs = (addressing?: 'revision') => ({
      revision: 'ffff0000',
      packages: ['old-0'],
      playlistKey: keys.playlist(VIDEO, 'ffff0000'),
      until,
      ...(addressing && { addressing }),
    });
    // Never converted again: no playlist ever named /v/<id>/<n>.ts.
    await objects.put('output', keys.route(VIDEO), JSON.stringify({ ...route, addressing: 'revision' }));
    const never = await serve(`/v/${VIDEO}/0.ts`);
    expect([never.status, never.body]).toEqual([404, 'not found\n']);
    // Converted again, but the replaced revision named its revision too: still never existed.
    await objects.put('output', keys.route(VIDEO), JSON.stringify({ ...route, addressing: 'revision', retired: [retiredAs('revision')] }));
    expect((await serve(`/v/${VIDEO}/0.ts`)).status).toBe(404);
    // Replacing a record of the old addressing: its one package was /v/<id>/0.ts, gone now; /1.ts never was.
    await objects.put('output', keys.route(VIDEO), JSON.stringify({ ...route, addressing: 'revision', retired: [retiredAs()] }));
    expect((await serve(`/v/${VIDEO}/0.ts`)).status).toBe(410);
    expect((await serve(`/v/${VIDEO}/1.ts`)).status).toBe(404);
  });

  it('answers the playlist of a registered video', async () => {
    const { serve } = await setup();
    const res = await serve(`/v/${VIDEO}/index.m3u8`);
    expect(res.status).toBe(200);
    expect(res.headers['Content-Type']).toBe('application/vnd.apple.mpegurl');
    expect(res.headers['Access-Control-Allow-Origin']).toBe('*');
    expect(res.body).toBe('#EXTM3U\n');
  });

  it('answers the playlist gzip-encoded when the request takes gzip (Apple HLS authoring 10.1), plain otherwise, varying by it', async () => {
    const { objects, code, urls } = await setup();
    const clock = () => 1_000_000;
    const ask = (acceptEncoding?: string) =>
      serveSegment(
        { method: 'GET', path: `/v/${VIDEO}/index.m3u8`, ...(acceptEncoding && { acceptEncoding }) },
        { objects, code, clock },
        { urls },
      );
    for (const taken of ['gzip', 'gzip, deflate, br', 'br;q=1.0, gzip;q=0.8', 'x-gzip', '*']) {
      const res = await ask(taken);
      expect([taken, res.headers['Content-Encoding'], res.headers.Vary]).toEqual([taken, 'gzip', 'Accept-Encoding']);
      expect(gunzipSync(res.body as Buffer).toString()).toBe('#EXTM3U\n');
    }
    for (const refused of [undefined, 'identity', 'br', 'gzip;q=0', '*;q=0', 'gzip;q=0, *']) {
      const res = await ask(refused);
      expect([refused, res.headers['Content-Encoding'], res.body]).toEqual([refused, undefined, '#EXTM3U\n']);
      expect(res.headers.Vary).toBe('Accept-Encoding');
    }
  });

  it('sends a gzip-encoded playlist through API Gateway base64-encoded, as payload format 2.0 asks', async () => {
    const { objects, code, urls } = await setup();
    const event = {
      rawPath: `/v/${VIDEO}/index.m3u8`,
      headers: { 'accept-encoding': 'gzip' },
      requestContext: { http: { method: 'GET' } },
    };
    const answer = toHttpApiResult(await serveSegment(parseHttpApiEvent(event), { objects, code, clock: () => 0 }, { urls }));
    expect(answer).toMatchObject({ statusCode: 200, isBase64Encoded: true, headers: { 'Content-Encoding': 'gzip' } });
    expect(gunzipSync(Buffer.from(answer.body, 'base64')).toString()).toBe('#EXTM3U\n');
  });

  it('answers a segment with 302 to its package URL and a Cache-Control shorter than the URL lives', async () => {
    const { serve } = await setup();
    const res = await serve(`/v/${VIDEO}/1.ts`);
    expect(res.status).toBe(302);
    expect(res.headers.Location).toMatch(/^memory:\/\/code\/seg-1\?/);
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers['Cache-Control'] ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge * 1000).toBeLessThanOrEqual(600_000 - URL_REFRESH_MARGIN_MS);
  });

  it.each([
    ['an unknown video', '/v/other-video-000000/0.ts'],
    ['a segment past the end', `/v/${VIDEO}/2.ts`],
    ['a negative segment', `/v/${VIDEO}/-1.ts`],
    ['a huge segment number', `/v/${VIDEO}/99999999999.ts`],
    ['a leading zero', `/v/${VIDEO}/01.ts`],
    ['dot segments', `/v/${VIDEO}/../index.m3u8`],
    ['an encoded slash', `/v/${VIDEO}%2F0.ts`],
    ['an encoded dot', `/v/${VIDEO}/%2e%2e/0.ts`],
    ['upper case', `/v/${VIDEO.toUpperCase()}/0.ts`],
    ['another extension', `/v/${VIDEO}/0.zip`],
    ['an overlong path', `/v/${'a'.repeat(300)}/0.ts`],
    ['the bare prefix', '/v/'],
  ])('answers 404 for %s without calling the code store', async (_, path) => {
    const { serve, code } = await setup();
    const res = await serve(path);
    expect(res.status).toBe(404);
    expect(code.describeCalls).toBe(0);
  });

  it('refuses methods other than GET and HEAD', async () => {
    const { serve } = await setup();
    expect((await serve(`/v/${VIDEO}/0.ts`, 'POST')).status).toBe(405);
    expect((await serve(`/v/${VIDEO}/0.ts`, 'HEAD')).status).toBe(302);
  });

  it('looks a package URL up once and reuses it until shortly before it expires', async () => {
    const { serve, code, advance } = await setup();
    await serve(`/v/${VIDEO}/0.ts`);
    await serve(`/v/${VIDEO}/0.ts`);
    advance(600_000 - URL_REFRESH_MARGIN_MS - 1000);
    await serve(`/v/${VIDEO}/0.ts`);
    expect(code.describeCalls).toBe(1);
    advance(2000); // now within the refresh margin
    const res = await serve(`/v/${VIDEO}/0.ts`);
    expect(code.describeCalls).toBe(2);
    expect(res.headers['Cache-Control']).toMatch(/max-age=5\d\d/);
  });

  it('coalesces concurrent misses for the same package into one look-up', async () => {
    const { serve, code } = await setup();
    const answers = await Promise.all(Array.from({ length: 20 }, () => serve(`/v/${VIDEO}/1.ts`)));
    expect(answers.every((a) => a.status === 302)).toBe(true);
    expect(code.describeCalls).toBe(1);
  });

  it('with the record cache, reads a route and a playlist once for many requests, and sees a deletion within ROUTE_TTL_MS', async () => {
    const { serveCached, records, objects, advance } = await setup();
    const routeReads = jest.spyOn(objects, 'getTagged');
    const playlistReads = jest.spyOn(objects, 'get');
    for (let i = 0; i < 50; i++) {
      expect((await serveCached(`/v/${VIDEO}/index.m3u8`)).body).toBe('#EXTM3U\n');
      expect((await serveCached(`/v/${VIDEO}/${i % 2}.ts`)).status).toBe(302);
    }
    expect([routeReads.mock.calls.length, playlistReads.mock.calls.length]).toEqual([1, 1]);
    expect(records.routes.loads).toBe(1);
    await objects.delete('output', keys.route(VIDEO));
    expect((await serveCached(`/v/${VIDEO}/0.ts`)).status).toBe(302); // still trusted
    advance(ROUTE_TTL_MS + 1);
    expect((await serveCached(`/v/${VIDEO}/0.ts`)).status).toBe(404);
    expect((await serveCached(`/v/${VIDEO}/index.m3u8`)).status).toBe(404);
  });

  it('coalesces concurrent route misses into one read', async () => {
    const { serveCached, objects } = await setup();
    const reads = jest.spyOn(objects, 'getTagged');
    await Promise.all(Array.from({ length: 20 }, () => serveCached(`/v/${VIDEO}/0.ts`)));
    expect(reads).toHaveBeenCalledTimes(1);
  });

  it('stops answering for a video once its route is gone', async () => {
    const { serve, objects } = await setup();
    await objects.delete('output', keys.route(VIDEO));
    expect((await serve(`/v/${VIDEO}/index.m3u8`)).status).toBe(404);
  });
});
