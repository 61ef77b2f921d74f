// What both playback routes share — serve-segment's (the playlist, 302s to package URLs, the
// hosted page) and deliver-segment's (the same playlists, the bytes proxied): the request and
// answer shapes, a container's caches of route records and package URLs, CORS, the paths they
// answer, and API Gateway's and function URLs' events. No page and no hls.js: those are the page's.
import { gzipSync } from 'node:zlib';
import { isVideoId, keys } from '../core/naming';
import { parseStoredTrack, playlistDurations, webVttSegment } from '../core/captions';
import { answeredRevision } from '../core/grace';
import type { RouteRecord } from '../core/model';
import type { Clock, CodeStore, PackageLocation, Ports } from '../ports';
import { readRoute } from '../registry/routes';

export interface ServeRequest {
  method: string;
  /** The raw path as requested, still percent-encoded. */
  path: string;
  /** The Range header, when the request has one (the delivery route reads it). */
  range?: string;
  /** The Accept-Encoding header, when the request has one: playlists go gzip-encoded when it takes gzip. */
  acceptEncoding?: string;
  /** `https://<host>` as the request names it (Host, X-Forwarded-Proto): the hosted page's link preview names its poster by it. */
  origin?: string;
}

export interface ServeResponse {
  status: number;
  headers: Record<string, string>;
  /** Text, or bytes (a gzip-encoded playlist). */
  body: string | Buffer;
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
// `/v/<id>/<revision>/<rung>.m3u8`: a ladder's rung's media playlist, as its multivariant playlist names it.
// `/v/<id>/<revision>/<rung>-iframes.m3u8`: its I-frame playlist.
// `/v/<id>/<revision>/source.m3u8`: one rendition's media playlist, when subtitles made its playlist a multivariant one.
const RENDITION_PLAYLIST = /^\/v\/([a-z0-9-]{1,64})\/([a-z0-9]{4,16})\/([1-9][0-9]{1,3}p|source)(-iframes)?\.m3u8$/;

// `/v/<id>/poster.jpg` (the served revision's), `/v/<id>/<revision>/storyboard.vtt` and the sprite its cues name beside it.
const PICTURE = /^\/v\/([a-z0-9-]{1,64})\/(?:(poster\.jpg)|([a-z0-9]{4,16})\/(storyboard\.vtt|storyboard\.jpg))$/;

// `/v/<id>/<revision>/subtitles-<set>/<track>.m3u8` (a subtitle rendition's playlist), `<track>.vtt`
// (the whole track) and `<track>/<n>.vtt` (its segment n, cut from the track when asked).
const CAPTION =
  /^\/v\/([a-z0-9-]{1,64})\/([a-z0-9]{4,16})\/subtitles-([0-9a-f]{8})\/(0|[1-9][0-9]?)(?:\.(m3u8|vtt)|\/(0|[1-9][0-9]{0,5})\.vtt)$/;

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
  | { videoId: string; playlist: true; rendition?: undefined }
  | { videoId: string; playlist: true; revision: string; rendition: string; iFrames: boolean }
  | { videoId: string; playlist: false; revision: string | undefined; packageIndex: number };

/** Only the exact shapes we publish: anything encoded, dotted or overlong never reaches a store. */
export function playbackTarget(path: string): PlaybackTarget | undefined {
  const rung = path.length <= MAX_PATH ? RENDITION_PLAYLIST.exec(path) : null;
  if (rung)
    return isVideoId(rung[1]!)
      ? { videoId: rung[1]!, playlist: true, revision: rung[2]!, rendition: rung[3]!, iFrames: rung[4] !== undefined }
      : undefined;
  const match = path.length <= MAX_PATH ? ROUTE.exec(path) : null;
  if (!match || !isVideoId(match[1]!)) return undefined;
  const videoId = match[1]!;
  if (match[2]) return { videoId, playlist: true };
  return { videoId, playlist: false, revision: match[3], packageIndex: Number(match[4]) };
}

/** A picture's path, parsed: the served revision's poster, or a revision's storyboard track or sprite. */
export type PictureTarget =
  | { videoId: string; picture: 'poster'; revision?: undefined }
  | { videoId: string; picture: 'storyboard' | 'storyboardImage'; revision: string };

export function pictureTarget(path: string): PictureTarget | undefined {
  const match = path.length <= MAX_PATH ? PICTURE.exec(path) : null;
  if (!match || !isVideoId(match[1]!)) return undefined;
  if (match[2]) return { videoId: match[1]!, picture: 'poster' };
  return { videoId: match[1]!, picture: match[4] === 'storyboard.vtt' ? 'storyboard' : 'storyboardImage', revision: match[3]! };
}

/**
 * A picture's answer, from the output bucket: the served revision's poster (short-lived: a
 * conversion replaces it), a revision's storyboard for as long as the revision is answered (it
 * never changes). 404 when the video has none.
 */
export async function pictureResponse(
  route: RouteRecord,
  target: PictureTarget,
  ports: ServeSegmentPorts,
  now: number,
): Promise<ServeResponse> {
  let key: string | undefined;
  if (target.picture === 'poster') key = route.pictures?.posterKey;
  else {
    const served = answeredRevision(route, target.revision, now);
    if (served === 'gone') return gone();
    key = target.picture === 'storyboard' ? served?.pictures?.storyboardKey : served?.pictures?.storyboardImageKey;
  }
  if (!key) return notFound();
  const body = await ports.objects.get('output', key).catch(() => undefined);
  if (!body) return notFound();
  return {
    status: 200,
    headers: {
      ...CORS,
      'Content-Type': target.picture === 'storyboard' ? 'text/vtt; charset=utf-8' : 'image/jpeg',
      'Cache-Control': target.picture === 'poster' ? 'public, max-age=10' : 'public, max-age=86400, immutable',
    },
    body: target.picture === 'storyboard' ? body.toString('utf8') : body,
  };
}

/** A caption path, parsed: a subtitle playlist, a whole track, or a track's segment n. */
export interface CaptionTarget {
  videoId: string;
  revision: string;
  set: string;
  track: number;
  file: 'playlist' | 'track' | 'segment';
  segment?: number;
}

export function captionTarget(path: string): CaptionTarget | undefined {
  const match = path.length <= MAX_PATH ? CAPTION.exec(path) : null;
  if (!match || !isVideoId(match[1]!)) return undefined;
  const at = { videoId: match[1]!, revision: match[2]!, set: match[3]!, track: Number(match[4]) };
  if (match[6] !== undefined) return { ...at, file: 'segment', segment: Number(match[6]) };
  return { ...at, file: match[5] === 'm3u8' ? 'playlist' : 'track' };
}

/** Stored tracks read back (cues and MPEGTS) by key: a track never changes, and each of its segments is cut from it. */
const TRACKS = new TtlCache<ReturnType<typeof parseStoredTrack>>(Number.POSITIVE_INFINITY, Date.now, 32);

/**
 * A caption file's answer, from the output bucket, for as long as its revision is answered (410
 * after its grace): a subtitle playlist (gzip-encoded when taken), a whole track, or segment n cut
 * from the track at the playlist's n-th cut. 404 when there is none such. A set's files never
 * change (another set is another folder), so the tracks and segments are cached for a day.
 */
export async function captionResponse(
  route: RouteRecord,
  target: CaptionTarget,
  request: Pick<ServeRequest, 'acceptEncoding'>,
  ports: ServeSegmentPorts,
  caches: ServeCaches,
  now: number,
): Promise<ServeResponse> {
  const served = answeredRevision(route, target.revision, now);
  if (served === 'gone') return gone();
  if (!served) return notFound();
  const { videoId, revision, set, track } = target;
  const playlist = await playlistText(keys.subtitlePlaylist(videoId, revision, set, track), ports, caches);
  if (playlist === undefined) return notFound();
  if (target.file === 'playlist') return playlistResponse(playlist, request);
  const trackKey = keys.subtitleTrack(videoId, revision, set, track);
  const text = await playlistText(trackKey, ports, caches);
  if (text === undefined) return notFound();
  let body: string | undefined = text;
  if (target.file === 'segment') {
    const parsed = await TRACKS.get(trackKey, async () => parseStoredTrack(text));
    body = parsed && webVttSegment(parsed, playlistDurations(playlist), target.segment!);
  }
  if (body === undefined) return notFound();
  const headers = { ...CORS, 'Content-Type': 'text/vtt; charset=utf-8', 'Cache-Control': 'public, max-age=86400, immutable' };
  return { status: 200, headers, body };
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
 * The key of the playlist a playlist request names: the route's own (its multivariant playlist,
 * with a ladder), or a rung's media playlist of the route's revision or of a retired one within its
 * grace ('gone' after it); undefined when there is none such.
 */
export function playlistKeyOf(
  route: RouteRecord,
  target: Extract<PlaybackTarget, { playlist: true }>,
  now: number,
): string | 'gone' | undefined {
  if (target.rendition === undefined) return route.playlistKey;
  const served = answeredRevision(route, target.revision, now);
  if (!served || served === 'gone') return served;
  // Only a ladder's rungs have playlists of their own: a single rendition's is the route's own.
  const rung = served.renditions?.find((r) => r.rendition === target.rendition && r.playlistKey !== served.playlistKey);
  return target.iFrames ? rung?.iFramesKey : rung?.playlistKey;
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

/**
 * Whether an Accept-Encoding header takes gzip (RFC 9110 §12.5.3): `gzip` (or `x-gzip`) with a q
 * above 0, or `*` above 0 when gzip is not itself refused.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  const weights = new Map<string, number>();
  for (const part of header.toLowerCase().split(',')) {
    const [coding = '', ...params] = part.split(';').map((p) => p.trim());
    const q = params.map((p) => /^q=([0-9.]+)$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (coding) weights.set(coding === 'x-gzip' ? 'gzip' : coding, q === undefined ? 1 : Number(q));
  }
  const gzip = weights.get('gzip') ?? weights.get('*');
  return gzip !== undefined && gzip > 0;
}

/**
 * The playlist response both routes give (the delivery route serves the same text on its own
 * origin), gzip-encoded when the request takes it (Apple's HLS authoring 10.1; neither API
 * Gateway's HTTP APIs nor function URLs compress by themselves).
 */
export async function playlistResponse(body: string, request: Pick<ServeRequest, 'acceptEncoding'>): Promise<ServeResponse> {
  const headers = {
    ...CORS,
    'Content-Type': 'application/vnd.apple.mpegurl',
    // Short: a re-conversion switches the route to a new playlist.
    'Cache-Control': 'public, max-age=10',
    // A cache keeps the encoded and the plain answer apart.
    Vary: 'Accept-Encoding',
  };
  if (!acceptsGzip(request.acceptEncoding)) return { status: 200, headers, body };
  const encoded = await GZIPPED.get(body, async () => gzipSync(body));
  return { status: 200, headers: { ...headers, 'Content-Encoding': 'gzip' }, body: encoded };
}

/**
 * The gzip encodings of the playlists answered lately, by their text (a playlist's text never
 * changes): compressed once each, not on every request (a day's playlist, 600 KB, takes ~4 ms).
 */
const GZIPPED = new TtlCache<Buffer>(Number.POSITIVE_INFINITY, Date.now, 32);

/** What API Gateway's HTTP API (payload format 2.0) sends the Lambda: the parts the route reads. */
export interface HttpApiEvent {
  rawPath?: string;
  headers?: Record<string, string>;
  requestContext?: { http?: { method?: string } };
}

/**
 * A request as the routes read it, from its method, raw path and headers (names in lower case, as
 * Node, API Gateway 2.0 and function URLs give them): the headers they act on and no others.
 */
export function serveRequest(method: string | undefined, path: string, headers: Record<string, unknown> = {}): ServeRequest {
  const { range, 'accept-encoding': acceptEncoding, host, 'x-forwarded-proto': proto } = headers;
  // Only a host name and port: anything else is not named back in a page.
  const origin =
    typeof host === 'string' && /^[a-z0-9.-]{1,253}(:\d{1,5})?$/i.test(host)
      ? `${proto === 'http' || proto === 'https' ? proto : 'http'}://${host}`
      : undefined;
  return {
    method: typeof method === 'string' ? method : 'GET',
    path,
    ...(typeof range === 'string' && { range }),
    ...(typeof acceptEncoding === 'string' && { acceptEncoding }),
    ...(origin && { origin }),
  };
}

/** Never refuses: an event without a path is a request for `/`, which the route answers 404. */
export function parseHttpApiEvent(event: unknown): ServeRequest {
  const raw = (event ?? {}) as HttpApiEvent;
  const headers = raw.headers && typeof raw.headers === 'object' ? raw.headers : {};
  return serveRequest(raw.requestContext?.http?.method, typeof raw.rawPath === 'string' ? raw.rawPath : '/', headers);
}

/** The HTTP API's answer: bytes go base64-encoded, as payload format 2.0 asks. */
export function toHttpApiResult(response: ServeResponse) {
  return typeof response.body === 'string'
    ? { statusCode: response.status, headers: response.headers, body: response.body }
    : { statusCode: response.status, headers: response.headers, body: response.body.toString('base64'), isBase64Encoded: true };
}
