// deliver-segment: the delivery route for web players. AWS's code bucket sends no CORS headers, so
// a page's player (hls.js, Shaka, video.js, Chromium's own) cannot read a package URL across
// origins. This route answers on our own origin, with CORS:
//   GET /v/<id>/index.m3u8          the proxied playlist: the redirect playlist's segments, in order
//                                   and with their durations, each addressed as a resource of its own
//                                   (`<revision>/s<i>.ts`, no EXT-X-BYTERANGE);
//   GET /v/<id>/<revision>/s<i>.ts  segment i of that revision: its bytes, read by range from its
//                                   package's signed URL through the code store (CodeStore.streamRange)
//                                   and passed on as they arrive. A Range is read within
//                                   the segment (`bytes=0-` is its first byte), so no request reaches
//                                   a byte outside a registered segment of a registered revision.
// Used by `lambda-hls serve` (under /proxy) and by a Lambda function URL with response streaming.
import type { Readable } from 'node:stream';
import { parseRange } from '../core/byte-range';
import { answeredRevision } from '../core/grace';
import { isVideoId } from '../core/naming';
import { checkPlaylist, type PlaylistSegment } from '../core/playlist';
import type { PackageLocation } from '../ports';
import {
  CORS,
  captionResponse,
  captionTarget,
  gone,
  PackageUrlCache,
  playbackTarget,
  playlistKeyOf,
  playlistResponse,
  playlistText,
  routeOf,
  type ServeCaches,
  ServeRecordCache,
  type ServeRequest,
  type ServeResponse,
  type ServeSegmentPorts,
  TtlCache,
  text,
  parseHttpApiEvent,
} from '../playback/routes';
import { entry } from './entry';

/** A response whose body may be a stream of the segment's bytes. */
export type DeliverResponse = Omit<ServeResponse, 'body'> & { body: ServeResponse['body'] | Readable };

/** What a container keeps besides serve-segment's caches: each playlist's segments, parsed once. */
export interface DeliverCaches extends ServeCaches {
  segments: TtlCache<PlaylistSegment[] | undefined>;
}

export function newDeliverCaches(now: () => number, shared?: ServeCaches): DeliverCaches {
  return {
    urls: shared?.urls ?? new PackageUrlCache(now),
    records: shared?.records ?? new ServeRecordCache(now),
    segments: new TtlCache(3_600_000, now, 200),
  };
}

const DELIVERY_CORS = {
  ...CORS,
  // A player reads these to place the bytes (hls.js checks Content-Range on 206).
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges',
};

// `/v/<id>/<revision>/s<i>.ts`, or a ladder's rung's `/v/<id>/<revision>/<rung>/s<i>.ts`.
// (And one rendition's, `/v/<id>/<revision>/source/s<i>.ts`, when subtitles gave it a media playlist of its own.)
const SEGMENT = /^\/v\/([a-z0-9-]{1,64})\/([a-z0-9]{4,16})\/(?:([1-9][0-9]{1,3}p|source)\/)?s(0|[1-9][0-9]{0,5})\.ts$/;

function withCors(answer: ServeResponse): DeliverResponse {
  return { ...answer, headers: { ...answer.headers, ...DELIVERY_CORS } };
}

const refuse = (status: number, why: string, extra: Record<string, string> = {}) => withCors(text(status, `${why}\n`, extra));

/**
 * The redirect playlist's segments as resources of their own, no byte ranges: `<prefix>/s<i>.ts`
 * — the revision's for the route's own playlist, the rung's for a ladder's media playlist (which
 * sits in its revision's folder already). A multivariant playlist goes as it is: its variants'
 * URIs are the same on either origin.
 */
export function proxiedPlaylist(redirectPlaylist: string, prefix: string): string {
  if (redirectPlaylist.includes('#EXT-X-STREAM-INF:')) return redirectPlaylist;
  let index = 0;
  const lines: string[] = [];
  for (const line of redirectPlaylist.split('\n')) {
    if (line.startsWith('#EXT-X-BYTERANGE:')) continue;
    if (line.startsWith('#EXT-X-VERSION:')) lines.push('#EXT-X-VERSION:3');
    else if (line !== '' && !line.startsWith('#')) lines.push(`${prefix}/s${index++}.ts`);
    else lines.push(line);
  }
  return lines.join('\n');
}

/**
 * A rung's I-frame playlist on the delivery route: each keyframe's range is inside one of the
 * rung's segments, so it names that segment's resource (`<rung>/s<i>.ts`) and its range within it
 * (the route answers a Range within a segment). `media` is the rung's media playlist's segments.
 */
export function proxiedIFramePlaylist(iFramePlaylist: string, media: readonly PlaylistSegment[], prefix: string): string | undefined {
  const lines: string[] = [];
  let range: { length: number; offset: number } | undefined;
  for (const line of iFramePlaylist.split('\n')) {
    const match = /^#EXT-X-BYTERANGE:(\d+)@(\d+)$/.exec(line);
    if (match) range = { length: Number(match[1]), offset: Number(match[2]) };
    else if (line !== '' && !line.startsWith('#')) {
      const at = range;
      const i = at ? media.findIndex((s) => s.uri === line && s.offset <= at.offset && at.offset + at.length <= s.offset + s.length) : -1;
      if (!at || i === -1) return undefined;
      lines.push(`#EXT-X-BYTERANGE:${at.length}@${at.offset - media[i]!.offset}`, `${prefix}/s${i}.ts`);
    } else lines.push(line);
  }
  return lines.join('\n');
}

export async function deliverSegment(request: ServeRequest, ports: ServeSegmentPorts, caches: DeliverCaches): Promise<DeliverResponse> {
  const now = ports.clock();
  const caption = captionTarget(request.path);
  const playlistTarget = playbackTarget(request.path);
  const segmentMatch = SEGMENT.exec(request.path);
  const videoId = caption?.videoId ?? (playlistTarget?.playlist ? playlistTarget.videoId : segmentMatch?.[1]);
  if (!videoId || !isVideoId(videoId)) return refuse(404, 'not found');
  if (request.method === 'OPTIONS') {
    return { status: 204, headers: { ...DELIVERY_CORS, 'Access-Control-Max-Age': '600' }, body: '' };
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(405, 'method not allowed', { Allow: 'GET, HEAD, OPTIONS' });
  const route = await routeOf(videoId, ports, caches);
  if (!route) return refuse(404, 'not found');
  // Subtitles are text from the output bucket on either origin: a web player reads them here beside the segments.
  if (caption) return withCors(await captionResponse(route, caption, request, ports, caches, now));

  if (!segmentMatch) {
    const key = playlistTarget?.playlist ? playlistKeyOf(route, playlistTarget, now) : undefined;
    if (key === 'gone') return withCors(gone());
    const playlist = key && (await playlistText(key, ports, caches));
    if (!playlist) return refuse(404, 'not found');
    const prefix = (playlistTarget?.playlist && playlistTarget.rendition) || route.revision;
    if (playlistTarget?.playlist && playlistTarget.rendition !== undefined && playlistTarget.iFrames) {
      // Its keyframes are ranges of the rung's segments: mapped onto the segments' own resources.
      const mediaKey = playlistKeyOf(route, { ...playlistTarget, iFrames: false }, now);
      const media = typeof mediaKey === 'string' ? await playlistText(mediaKey, ports, caches) : undefined;
      const proxied = media === undefined ? undefined : proxiedIFramePlaylist(playlist, checkPlaylist(media).segments, prefix);
      return proxied ? withCors(await playlistResponse(proxied, request)) : refuse(404, 'not found');
    }
    return withCors(await playlistResponse(proxiedPlaylist(playlist, prefix), request));
  }

  // Segment i of the revision's own playlist (or of its rung's): its package and its bytes inside it.
  const [, , revision, rung, number] = segmentMatch;
  const served = answeredRevision(route, revision!, now);
  if (served === 'gone') return withCors(gone());
  if (!served) return refuse(404, 'not found');
  const playlistKey = rung === undefined ? served.playlistKey : served.renditions?.find((r) => r.rendition === rung)?.playlistKey;
  if (playlistKey === undefined || (rung !== undefined && playlistKey === served.playlistKey)) return refuse(404, 'not found');
  const segments = await caches.segments.get(playlistKey, async () => {
    const playlist = await playlistText(playlistKey, ports, caches);
    return playlist === undefined ? undefined : checkPlaylist(playlist).segments;
  });
  const segment = segments?.[Number(number)];
  // A rung's playlist names its packages beside it (`<n>.ts`), the route's own under its revision.
  const target = segment && playbackTarget(`/v/${videoId}/${rung === undefined ? '' : `${revision}/`}${segment.uri}`);
  const functionName = target && !target.playlist ? served.packages[target.packageIndex] : undefined;
  if (!segment || !functionName) return refuse(404, 'not found');

  const size = segment.length;
  const range = parseRange(request.range, size);
  if (range === 'unsatisfiable') {
    return refuse(416, `range not satisfiable: this segment is ${size} bytes`, { 'Content-Range': `bytes */${size}` });
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  const [from, to] = [segment.offset + start, segment.offset + end];
  let upstream = await readPackage(ports, await caches.urls.get(ports.code, functionName), from, to);
  if (upstream === 'refused') {
    // The cached URL was refused: the function is gone (the video is being deleted — its route
    // may still be cached here for a few seconds) or the URL expired early. Ask once more.
    upstream = await readPackage(ports, await caches.urls.refresh(ports.code, functionName), from, to);
  }
  if (upstream === 'refused') return refuse(404, 'not found');
  if (typeof upstream === 'string') return refuse(502, upstream);
  const body = upstream;
  const headers: Record<string, string> = {
    ...DELIVERY_CORS,
    'Content-Type': 'video/mp2t',
    'Accept-Ranges': 'bytes',
    'Content-Length': String(end - start + 1),
    // A revision's segments never change.
    'Cache-Control': 'public, max-age=86400, immutable',
    ...(range && { 'Content-Range': `bytes ${start}-${end}/${size}` }),
  };
  const status = range ? 206 : 200;
  if (request.method === 'HEAD') {
    body.destroy();
    return { status, headers, body: '' };
  }
  return { status, headers, body };
}

/**
 * A package's bytes `from`..`to` as a stream (the code store's ranged read of its signed URL),
 * 'refused' (no function, or its URL refused), or why the package store failed (a reason for a 502).
 */
async function readPackage(
  ports: Pick<ServeSegmentPorts, 'code'>,
  location: PackageLocation | undefined,
  from: number,
  to: number,
): Promise<Readable | 'refused' | string> {
  if (!location) return 'refused';
  try {
    return await ports.code.streamRange(location.url, from, to);
  } catch (error) {
    return `the package store failed a ranged read: ${(error as Error).message}`;
  }
}

// One set per container, as serve-segment keeps its own.
let containerCaches: DeliverCaches | undefined;

/** The deployed route: deliverSegment with this container's caches. */
export function deliverPlayback(request: ServeRequest, ports: ServeSegmentPorts): Promise<DeliverResponse> {
  containerCaches ??= newDeliverCaches(ports.clock);
  return deliverSegment(request, ports, containerCaches);
}

/** deliverSegment's entry in the step table. */
export const deliverSegmentStep = entry({
  invokedBy: 'function URL',
  ports: ['objects', 'code', 'clock'],
  variables: ['UNLISTED_BUCKETS'],
  // The same, to read the segment's bytes through the code URL.
  access: { objects: { output: ['get'] }, code: ['read'] },
  parse: parseHttpApiEvent,
  run: (request, ports) => deliverPlayback(request, ports),
});
