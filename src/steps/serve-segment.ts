// serve-segment: the playback route. `GET /v/<id>/index.m3u8` returns the playlist;
// `GET /v/<id>/<revision>/<n>.ts` answers 302 to that revision's package n's signed code URL, and
// the player's Range request goes straight to the storage behind it. A revision replaced by a new
// conversion is answered for its grace period, then 410. Used by `lambda-hls serve` and API Gateway.
import { gzipSync } from 'node:zlib';
import { baseName, isVideoId, playbackPath, posterPath, storyboardPath } from '../core/naming';
import { hlsScript } from '../web/assets';
import { HLS_SCRIPT_PATH, watchPage } from '../web/player';
import { entry } from './entry';
import {
  type ServeRequest,
  type ServeResponse,
  type ServeSegmentPorts,
  type ServeCaches,
  ServeRecordCache,
  URL_REFRESH_MARGIN_MS,
  CORS,
  acceptsGzip,
  PackageUrlCache,
  text,
  notFound,
  gone,
  captionResponse,
  captionTarget,
  pictureResponse,
  pictureTarget,
  playbackTarget,
  routeOf,
  playlistKeyOf,
  playlistText,
  packageOf,
  playlistResponse,
  parseHttpApiEvent,
  toHttpApiResult,
} from '../playback/routes';

export async function serveSegment(request: ServeRequest, ports: ServeSegmentPorts, caches: ServeCaches): Promise<ServeResponse> {
  const now = ports.clock();
  const picture = pictureTarget(request.path);
  const caption = picture ? undefined : captionTarget(request.path);
  const target = picture ?? caption ?? playbackTarget(request.path);
  if (!target) return notFound();
  if (request.method === 'OPTIONS') return { status: 204, headers: { ...CORS, 'Access-Control-Max-Age': '600' }, body: '' };
  if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed\n', { Allow: 'GET, HEAD, OPTIONS' });

  const route = await routeOf(target.videoId, ports, caches);
  if (!route) return notFound();
  if ('picture' in target) return pictureResponse(route, target, ports, now);
  if ('set' in target) return captionResponse(route, target, request, ports, caches, now);

  if (target.playlist) {
    const key = playlistKeyOf(route, target, now);
    if (key === 'gone') return gone();
    const playlist = key && (await playlistText(key, ports, caches));
    return playlist ? playlistResponse(playlist, request) : notFound();
  }

  const found = packageOf(route, target, now);
  if (found === 'gone') return gone();
  if (!found) return notFound();
  const location = await caches.urls.get(ports.code, found.functionName);
  if (!location) return notFound();
  // A cached redirect must never outlive the URL it points at.
  const remaining = Math.floor((location.urlExpiresAt - now - URL_REFRESH_MARGIN_MS) / 1000);
  return {
    status: 302,
    headers: {
      ...CORS,
      Location: location.url,
      'Cache-Control': remaining > 0 ? `private, max-age=${remaining}` : 'no-store',
      'Content-Type': 'text/plain; charset=utf-8',
    },
    body: '',
  };
}

// One set per container: a warm container answers repeat segments without a GetFunction call,
// and repeat requests of a video without reading its route or playlist from S3.
let containerCaches: ServeCaches | undefined;

const WATCH = /^\/watch\/([a-z0-9-]{1,64})$/;

export interface PageOptions {
  /** Where the delivery route answers (its playlists are `<base>/v/<id>/index.m3u8`). */
  deliveryBase: string;
  /** The package URLs are on an origin without CORS (AWS's code bucket): web players need the delivery route. */
  codeCrossOrigin: boolean;
  /** Safari and iOS get the redirect playlist (no Lambda time per segment) rather than the delivery route Apple's 8.18 asks for. */
  appleRedirects?: boolean;
}

let scriptText: string | undefined;
let scriptGzip: Buffer | undefined;

/**
 * `GET /watch/<videoId>`: the hosted page of one video, and `GET /player/hls.min.js`, the hls.js it
 * loads. Undefined for any other path.
 */
export async function servePage(
  request: ServeRequest,
  ports: ServeSegmentPorts,
  caches: ServeCaches,
  options: PageOptions,
): Promise<ServeResponse | undefined> {
  if (request.path === HLS_SCRIPT_PATH) {
    const headers = { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=86400', Vary: 'Accept-Encoding' };
    // 624 KB as it is, 190 KB gzip-encoded: at 1.5 Mbit/s that is 2.3 s sooner to the first frame
    // (neither API Gateway's HTTP APIs nor the local server compress by themselves).
    if (acceptsGzip(request.acceptEncoding)) {
      scriptGzip ??= gzipSync(hlsScript());
      return { status: 200, headers: { ...headers, 'Content-Encoding': 'gzip' }, body: scriptGzip };
    }
    scriptText ??= hlsScript().toString('utf8');
    return { status: 200, headers, body: scriptText };
  }
  const match = WATCH.exec(request.path);
  if (!match) return undefined;
  const html = (status: number, body: string): ServeResponse => ({
    status,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
    body,
  });
  const route = isVideoId(match[1]!) ? await routeOf(match[1]!, ports, caches) : undefined;
  if (!route)
    return html(
      404,
      '<!doctype html><meta charset="utf-8"><title>Not found</title><p>No video has this address. It may have been removed.</p>\n',
    );
  const page = watchPage(
    {
      videoId: route.videoId,
      name: baseName(route.sourceKey),
      kind: route.kind,
      durationSeconds: route.durationSeconds,
      playlist: playbackPath(route.videoId),
      proxiedPlaylist: `${options.deliveryBase.replace(/\/+$/, '')}${playbackPath(route.videoId)}`,
      ...(route.pictures?.posterKey && { poster: posterPath(route.videoId) }),
      ...(route.pictures?.storyboardKey && { storyboard: storyboardPath(route.videoId, route.revision) }),
      // A track's key is its path on this origin (`v/<id>/<revision>/subtitles-<set>/<n>.vtt`).
      ...(route.captions && {
        captions: route.captions.tracks.map((t) => ({ language: t.language, name: t.name, src: `/${t.trackKey}` })),
      }),
    },
    HLS_SCRIPT_PATH,
    options.codeCrossOrigin,
    options.appleRedirects ?? false,
    request.origin,
  );
  return html(200, page);
}

/** The deployed routes: the hosted page, or serveSegment, with this container's caches, in the HTTP API's shape. */
export async function servePlayback(
  request: ServeRequest,
  ports: ServeSegmentPorts,
  deliveryUrl: string | undefined,
  appleRedirects = false,
) {
  containerCaches ??= { urls: new PackageUrlCache(ports.clock), records: new ServeRecordCache(ports.clock) };
  const page = deliveryUrl
    ? await servePage(request, ports, containerCaches, { deliveryBase: deliveryUrl, codeCrossOrigin: true, appleRedirects })
    : undefined;
  return toHttpApiResult(page ?? (await serveSegment(request, ports, containerCaches)));
}

/** serveSegment's entry in the step table. */
export const serveSegmentStep = entry({
  invokedBy: 'HTTP API',
  ports: ['objects', 'code', 'clock'],
  // Its role reads the output bucket but may not list it (a public function must not list every video).
  variables: ['DELIVERY_URL', 'LAMBDA_HLS_APPLE_REDIRECTS', 'UNLISTED_BUCKETS'],
  // The route and playlist, and each package's code URL. No list: a public function that could list
  // the output bucket would hand out every video id (UNLISTED_BUCKETS: a 403 is missing).
  access: { objects: { output: ['get'] }, code: ['read'] },
  parse: parseHttpApiEvent,
  run: (request, ports, settings) => servePlayback(request, ports, settings.deliveryUrl, settings.appleRedirects),
});
