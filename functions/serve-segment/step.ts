// serve-segment: the playback route. `GET /v/<id>/index.m3u8` returns the playlist;
// `GET /v/<id>/<revision>/<n>.ts` answers 302 to that revision's package n's signed code URL, and
// the player's Range request goes straight to the storage behind it. A revision replaced by a new
// conversion is answered for its grace period, then 410. Used by `lambda-hls serve` and API Gateway.
import { isVideoId } from '../../src/core/naming';
import { isInGrace, type RouteRecord } from '../../src/core/model';
import type { Clock, CodeStore, PackageLocation, Ports } from '../../src/ports';
import { readRoute } from '../../src/registry/routes';

export interface ServeRequest {
  method: string;
  /** The raw path as requested, still percent-encoded. */
  path: string;
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

  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.value;
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

const CORS = {
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
    return this.cache.get(name, () => code.describe(name));
  }
}

function text(status: number, body: string, extra: Record<string, string> = {}): ServeResponse {
  return { status, headers: { ...CORS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...extra }, body };
}

const notFound = () => text(404, 'not found\n');
const gone = () => text(410, 'gone: this video was converted again; load its playlist again\n');

export async function serveSegment(request: ServeRequest, ports: ServeSegmentPorts, caches: ServeCaches): Promise<ServeResponse> {
  const now = ports.clock();
  // Only the exact shapes we publish: anything encoded, dotted or overlong never reaches a store.
  const match = request.path.length <= MAX_PATH ? ROUTE.exec(request.path) : null;
  if (!match || !isVideoId(match[1]!)) return notFound();
  if (request.method === 'OPTIONS') return { status: 204, headers: { ...CORS, 'Access-Control-Max-Age': '600' }, body: '' };
  if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed\n', { Allow: 'GET, HEAD, OPTIONS' });

  const videoId = match[1]!;
  const { records } = caches;
  const readRecord = () => readRoute(ports.objects, videoId);
  const route = await (records ? records.routes.get(videoId, readRecord) : readRecord());
  if (!route) return notFound();

  if (match[2]) {
    const readPlaylist = () =>
      ports.objects.get('output', route.playlistKey).then(
        (b) => b.toString('utf8'),
        () => undefined,
      );
    const playlist = await (records ? records.playlists.get(route.playlistKey, readPlaylist) : readPlaylist());
    if (!playlist) return notFound();
    return {
      status: 200,
      headers: {
        ...CORS,
        'Content-Type': 'application/vnd.apple.mpegurl',
        // Short: a re-conversion switches the route to a new playlist.
        'Cache-Control': 'public, max-age=10',
      },
      body: playlist,
    };
  }

  // The packages of the revision the URI names: the route's, a retired one's within its grace
  // (410 after it), and never another revision's at the same offsets.
  const revision = match[3];
  let packages: readonly string[];
  if (revision === undefined) {
    if (route.addressing === 'revision') return gone(); // a playlist of a revision from before revisions were named
    packages = route.packages;
  } else if (revision === route.revision) {
    packages = route.packages;
  } else {
    const retired = route.retired?.find((r) => r.revision === revision);
    if (!retired) return notFound();
    if (!isInGrace(retired, now)) return gone();
    packages = retired.packages;
  }
  const functionName = packages[Number(match[4])];
  if (!functionName) return notFound();
  const location = await caches.urls.get(ports.code, functionName);
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
  requestContext?: { http?: { method?: string } };
}

/** Never refuses: an event without a path is a request for `/`, which the route answers 404. */
export function parseHttpApiEvent(event: unknown): ServeRequest {
  const raw = (event ?? {}) as HttpApiEvent;
  const method = raw.requestContext?.http?.method;
  return { method: typeof method === 'string' ? method : 'GET', path: typeof raw.rawPath === 'string' ? raw.rawPath : '/' };
}

export function toHttpApiResult(response: ServeResponse) {
  return { statusCode: response.status, headers: response.headers, body: response.body };
}

// One set per container: a warm container answers repeat segments without a GetFunction call,
// and repeat requests of a video without reading its route or playlist from S3.
let containerCaches: ServeCaches | undefined;

/** The deployed route: serveSegment with this container's caches, answered in the HTTP API's shape. */
export async function servePlayback(request: ServeRequest, ports: ServeSegmentPorts) {
  containerCaches ??= { urls: new PackageUrlCache(ports.clock), records: new ServeRecordCache(ports.clock) };
  return toHttpApiResult(await serveSegment(request, ports, containerCaches));
}
