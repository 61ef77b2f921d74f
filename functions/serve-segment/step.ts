// serve-segment: the playback route. `GET /v/<id>/index.m3u8` returns the playlist;
// `GET /v/<id>/<revision>/<n>.ts` answers 302 to that revision's package n's signed code URL, and
// the player's Range request goes straight to the storage behind it. A revision replaced by a new
// conversion is answered for its grace period, then 410. Used by `lambda-hls serve` and API Gateway.
import { baseName, isVideoId, playbackPath } from '../../src/core/naming';
import { answeredRevision, type RouteRecord } from '../../src/core/model';
import type { Clock, CodeStore, PackageLocation, Ports } from '../../src/ports';
import { readRoute } from '../../src/registry/routes';
import { hlsScript } from '../../src/web/assets';
import { HLS_SCRIPT_PATH, watchPage } from '../../src/web/player';

export interface ServeRequest {
  method: string;
  /** The raw path as requested, still percent-encoded. */
  path: string;
  /** The Range header, when the request has one (the delivery route reads it). */
  range?: string;
}

export interface ServeResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type ServeSegmentPorts = Pick<Ports, 'objects' | 'code' | 'clock'>;

/** What a container (or the local server) keeps between requests. */
export interface ServeCaches {
  urls: PackageUrlCache;
  /** Route records and playlist bytes (optional: without it every request reads the store). */
  records?: ServeRecordCache;
}

/** How long a route record is trusted: a new revision or a deletion is seen within this. */
export const ROUTE_TTL_MS = 5_000;

/**
 * Values kept for a while, concurrent misses sharing one load; at most `maxEntries`, the oldest
 * dropped first. A value lives `lifetime` ms from when its load finished (a number, or computed
 * from the value); failed loads are not kept.
 */
export class TtlCache<T> {
  private readonly entries = new Map<string, { value: Promise<T>; expiresAt: number }>();
  loads = 0;

  constructor(
    private readonly lifetime: number | ((value: T) => number),
    private readonly now: Clock,
    private readonly maxEntries = 1000,
  ) {}

  /** A fresh entry's value, or undefined: the hot path, which builds no loader. */
  fresh(key: string): Promise<T> | undefined {
    const hit = this.entries.get(key);
    return hit && hit.expiresAt > this.now() ? hit.value : undefined;
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.fresh(key);
    if (hit) return hit;
    this.loads++;
    const value = load();
    const entry = { value, expiresAt: Number.POSITIVE_INFINITY }; // in flight: shared by every caller
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    value.then(
      (v) => (entry.expiresAt = this.now() + (typeof this.lifetime === 'number' ? this.lifetime : this.lifetime(v))),
      () => this.entries.get(key) === entry && this.entries.delete(key),
    );
    return value;
  }

  /** Drops a key's entry, so the next get loads it again. */
  forget(key: string): void {
    this.entries.delete(key);
  }
}

/** Route records for a few seconds; playlists for an hour (a playlist key names one revision's, which never changes). */
export class ServeRecordCache {
  readonly routes: TtlCache<RouteRecord | undefined>;
  readonly playlists: TtlCache<string | undefined>;

  constructor(now: Clock) {
    this.routes = new TtlCache(ROUTE_TTL_MS, now);
    this.playlists = new TtlCache(3_600_000, now, 200);
  }
}

/** Re-fetch a URL this long before it expires, so no player is sent to a dying one. */
export const URL_REFRESH_MARGIN_MS = 60_000;
const MAX_PATH = 200;
// `/v/<id>/index.m3u8`, `/v/<id>/<revision>/<n>.ts`, or `/v/<id>/<n>.ts` (playlists written before revisions were named).
const ROUTE = /^\/v\/([a-z0-9-]{1,64})\/(?:(index\.m3u8)|(?:([a-z0-9]{4,16})\/)?(0|[1-9][0-9]{0,4})\.ts)$/;

export const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range',
};

/**
 * Signed package URLs per function, kept until shortly before they expire (a missing function is
 * not kept). Concurrent misses for the same function share one code-store call.
 */
export class PackageUrlCache {
  private readonly cache: TtlCache<PackageLocation | undefined>;

  constructor(now: Clock) {
    this.cache = new TtlCache((location) => (location ? location.urlExpiresAt - now() - URL_REFRESH_MARGIN_MS : 0), now, 10_000);
  }

  get lookups(): number {
    return this.cache.loads;
  }

  get(code: CodeStore, name: string): Promise<PackageLocation | undefined> {
    return this.cache.fresh(name) ?? this.cache.get(name, () => code.describe(name));
  }

  /** The function asked for again, not from the cache: when its URL was refused (deleted, or expired early). */
  refresh(code: CodeStore, name: string): Promise<PackageLocation | undefined> {
    this.cache.forget(name);
    return this.get(code, name);
  }
}

export function text(status: number, body: string, extra: Record<string, string> = {}): ServeResponse {
  return { status, headers: { ...CORS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...extra }, body };
}

export const notFound = () => text(404, 'not found\n');
export const gone = () => text(410, 'gone: this video was converted again; load its playlist again\n');

/** A playback path, parsed: a playlist request, or a segment's package (`revision` absent on old URIs). */
export type PlaybackTarget =
  | { videoId: string; playlist: true }
  | { videoId: string; playlist: false; revision: string | undefined; packageIndex: number };

/** Only the exact shapes we publish: anything encoded, dotted or overlong never reaches a store. */
export function playbackTarget(path: string): PlaybackTarget | undefined {
  const match = path.length <= MAX_PATH ? ROUTE.exec(path) : null;
  if (!match || !isVideoId(match[1]!)) return undefined;
  const videoId = match[1]!;
  if (match[2]) return { videoId, playlist: true };
  return { videoId, playlist: false, revision: match[3], packageIndex: Number(match[4]) };
}

/** The route record of a video, through the cache when there is one. */
export function routeOf(videoId: string, ports: ServeSegmentPorts, { records }: ServeCaches): Promise<RouteRecord | undefined> {
  if (!records) return readRoute(ports.objects, videoId);
  return records.routes.fresh(videoId) ?? records.routes.get(videoId, () => readRoute(ports.objects, videoId));
}

/** A playlist's text by key, through the cache when there is one; undefined when it is gone. */
export function playlistText(key: string, ports: ServeSegmentPorts, { records }: ServeCaches): Promise<string | undefined> {
  const read = () =>
    ports.objects.get('output', key).then(
      (b) => b.toString('utf8'),
      () => undefined,
    );
  if (!records) return read();
  return records.playlists.fresh(key) ?? records.playlists.get(key, read);
}

/**
 * The package a segment URI names: the route's own revision's, a retired revision's within its
 * grace ('gone' after it), never another revision's at the same offsets.
 */
export function packageOf(
  route: RouteRecord,
  target: Extract<PlaybackTarget, { playlist: false }>,
  now: number,
): { functionName: string } | 'gone' | undefined {
  const { revision } = target;
  // No revision in the URI: a playlist from before revisions were named, answered by the route's
  // own packages unless the route has moved on to named revisions. Then it is gone only where such
  // a playlist was served: a replaced revision of the old addressing had that package; anything
  // else never existed (404).
  if (revision === undefined && route.addressing === 'revision') {
    const existed = (route.retired ?? []).some((r) => r.addressing !== 'revision' && target.packageIndex < r.packages.length);
    return existed ? 'gone' : undefined;
  }
  const served = revision === undefined ? route : answeredRevision(route, revision, now);
  if (!served || served === 'gone') return served;
  const functionName = served.packages[target.packageIndex];
  return functionName ? { functionName } : undefined;
}

/** The playlist response both routes give (the delivery route serves the same text on its own origin). */
export function playlistResponse(body: string): ServeResponse {
  return {
    status: 200,
    headers: {
      ...CORS,
      'Content-Type': 'application/vnd.apple.mpegurl',
      // Short: a re-conversion switches the route to a new playlist.
      'Cache-Control': 'public, max-age=10',
    },
    body,
  };
}

export async function serveSegment(request: ServeRequest, ports: ServeSegmentPorts, caches: ServeCaches): Promise<ServeResponse> {
  const now = ports.clock();
  const target = playbackTarget(request.path);
  if (!target) return notFound();
  if (request.method === 'OPTIONS') return { status: 204, headers: { ...CORS, 'Access-Control-Max-Age': '600' }, body: '' };
  if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed\n', { Allow: 'GET, HEAD, OPTIONS' });

  const route = await routeOf(target.videoId, ports, caches);
  if (!route) return notFound();

  if (target.playlist) {
    const playlist = await playlistText(route.playlistKey, ports, caches);
    return playlist ? playlistResponse(playlist) : notFound();
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

/** What API Gateway's HTTP API (payload format 2.0) sends the Lambda: the parts the route reads. */
export interface HttpApiEvent {
  rawPath?: string;
  headers?: Record<string, string>;
  requestContext?: { http?: { method?: string } };
}

/** Never refuses: an event without a path is a request for `/`, which the route answers 404. */
export function parseHttpApiEvent(event: unknown): ServeRequest {
  const raw = (event ?? {}) as HttpApiEvent;
  const method = raw.requestContext?.http?.method;
  // Both API Gateway (2.0) and function URLs send header names in lower case.
  const range = raw.headers && typeof raw.headers === 'object' ? raw.headers.range : undefined;
  return {
    method: typeof method === 'string' ? method : 'GET',
    path: typeof raw.rawPath === 'string' ? raw.rawPath : '/',
    ...(typeof range === 'string' && { range }),
  };
}

export function toHttpApiResult(response: ServeResponse) {
  return { statusCode: response.status, headers: response.headers, body: response.body };
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
}

let scriptText: string | undefined;

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
    scriptText ??= hlsScript().toString('utf8');
    return {
      status: 200,
      headers: { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=86400' },
      body: scriptText,
    };
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
    },
    HLS_SCRIPT_PATH,
    options.codeCrossOrigin,
  );
  return html(200, page);
}

/** The deployed routes: the hosted page, or serveSegment, with this container's caches, in the HTTP API's shape. */
export async function servePlayback(request: ServeRequest, ports: ServeSegmentPorts, deliveryUrl: string | undefined) {
  containerCaches ??= { urls: new PackageUrlCache(ports.clock), records: new ServeRecordCache(ports.clock) };
  const page = deliveryUrl
    ? await servePage(request, ports, containerCaches, { deliveryBase: deliveryUrl, codeCrossOrigin: true })
    : undefined;
  return toHttpApiResult(page ?? (await serveSegment(request, ports, containerCaches)));
}
