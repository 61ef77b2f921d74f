// serve-segment: the playback route. `GET /v/<id>/index.m3u8` returns the playlist;
// `GET /v/<id>/<n>.ts` answers 302 to package n's signed code URL, and the player's Range request
// goes straight to the storage behind it. Used by `lambda-hls serve` now, API Gateway in AWS.
import { isVideoId } from '../../src/core/naming';
import type { CodeStore, ObjectStore, PackageLocation } from '../../src/ports';
import { readRoute } from '../../src/registry';

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

export interface ServeSegmentPorts {
  objects: ObjectStore;
  code: CodeStore;
  urls: PackageUrlCache;
  now?: () => number;
}

/** Re-fetch a URL this long before it expires, so no player is sent to a dying one. */
export const URL_REFRESH_MARGIN_MS = 60_000;
const MAX_PATH = 200;
const ROUTE = /^\/v\/([a-z0-9-]{1,64})\/(index\.m3u8|(0|[1-9][0-9]{0,4})\.ts)$/;

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range',
};

/**
 * Signed package URLs per function, kept until shortly before they expire. Concurrent misses for
 * the same function share one code-store call.
 */
export class PackageUrlCache {
  private readonly entries = new Map<string, Promise<PackageLocation | undefined>>();
  lookups = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async get(code: CodeStore, name: string): Promise<PackageLocation | undefined> {
    const cached = this.entries.get(name);
    if (cached) {
      const location = await cached;
      if (location && location.urlExpiresAt - this.now() > URL_REFRESH_MARGIN_MS) return location;
      if (this.entries.get(name) !== cached) return this.get(code, name); // someone refreshed it
    }
    this.lookups++;
    const pending = code.describe(name);
    this.entries.set(name, pending);
    try {
      const location = await pending;
      if (!location) this.entries.delete(name);
      return location;
    } catch (error) {
      this.entries.delete(name);
      throw error;
    }
  }

  forget(name: string): void {
    this.entries.delete(name);
  }
}

function text(status: number, body: string, extra: Record<string, string> = {}): ServeResponse {
  return { status, headers: { ...CORS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...extra }, body };
}

const notFound = () => text(404, 'not found\n');

export async function serveSegment(request: ServeRequest, ports: ServeSegmentPorts): Promise<ServeResponse> {
  const now = (ports.now ?? Date.now)();
  // Only the exact shapes we publish: anything encoded, dotted or overlong never reaches a store.
  const match = request.path.length <= MAX_PATH ? ROUTE.exec(request.path) : null;
  if (!match || !isVideoId(match[1]!)) return notFound();
  if (request.method === 'OPTIONS') return { status: 204, headers: { ...CORS, 'Access-Control-Max-Age': '600' }, body: '' };
  if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed\n', { Allow: 'GET, HEAD, OPTIONS' });

  const videoId = match[1]!;
  const route = await readRoute(ports.objects, videoId);
  if (!route) return notFound();

  if (match[2] === 'index.m3u8') {
    const playlist = await ports.objects.get('output', route.playlistKey).catch(() => undefined);
    if (!playlist) return notFound();
    return {
      status: 200,
      headers: {
        ...CORS,
        'Content-Type': 'application/vnd.apple.mpegurl',
        // Short: a re-conversion switches the route to a new playlist.
        'Cache-Control': 'public, max-age=10',
      },
      body: playlist.toString('utf8'),
    };
  }

  const functionName = route.packages[Number(match[3])];
  if (!functionName) return notFound();
  const location = await ports.urls.get(ports.code, functionName);
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
