// The local stand-in for API Gateway + serve-segment, the delivery route and Lambda's code storage:
// playlists and 302s under /v/, the same playlists with the segments' bytes under /proxy/v/
// (deliver-segment), signed package URLs under /code/ (with Range, like S3), a player page at /.
import type { FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream';
import { type DeliverResponse, deliverSegment, newDeliverCaches } from '../src/steps/deliver-segment';
import { PackageUrlCache, ServeRecordCache, serveRequest } from '../src/playback/routes';
import { servePage, serveSegment } from '../src/steps/serve-segment';
import { playbackPath, posterPath } from '../src/core/naming';
import type { LocalBackend } from '../src/composition/backends/local';
import { byNewest, listRoutes, routeSummary } from '../src/registry/routes';
import { parseRange } from '../src/core/byte-range';
import { HLS_SCRIPT_PATH } from '../src/web/player';
import { playerPage } from './player-page';

export interface RunningServer {
  url: string;
  port: number;
  urls: PackageUrlCache;
  close(): Promise<void>;
}

export interface ServerOptions {
  backend: LocalBackend;
  host?: string;
  port?: number;
  /** Called once per request with a short line (method, path, status). */
  log?: (line: string) => void;
  /**
   * Serve the package URLs from a second port that sends no CORS headers, as AWS's code bucket
   * does (for tests: the page must then play web players through the delivery route).
   */
  separateCodeOrigin?: boolean;
  /** Open connections kept at most (default `MAX_CONNECTIONS`); past it the longest-idle one is closed. */
  maxConnections?: number;
}

/**
 * Connections `serve` keeps open at once. Each costs a file descriptor; a client opening many and
 * sending nothing would otherwise hold them until Node's header timeout and starve everyone else.
 */
export const MAX_CONNECTIONS = 512;
/** How long a connection may take to send a request's headers, from its opening or its last answer. */
const HEADERS_TIMEOUT_MS = 10_000;

/** Where the delivery route answers on the local server: `/proxy/v/<id>/index.m3u8` and its segments. */
export const PROXY_PREFIX = '/proxy';

const CODE_PATH = /^\/code\/([A-Za-z0-9_-]{1,64})\.zip$/;
const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'Range',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges',
};

/** An origin-form target: its path at once, its query parsed only when asked for. */
class OriginTarget {
  private parsed: URL | undefined;
  constructor(
    readonly rawPath: string,
    private readonly target: string,
  ) {}
  get url(): URL {
    this.parsed ??= new URL(this.target, 'http://local');
    return this.parsed;
  }
}

/**
 * The request target as the routes read it: origin-form (`/v/a/0.ts`) as sent, absolute-form
 * (`GET http://host/v/a/0.ts`, RFC 9112 §3.2.2) by its path; undefined when it cannot be parsed.
 */
export function requestTarget(target: string | undefined): { rawPath: string; url: URL } | undefined {
  try {
    // `//…` is not origin-form (a scheme-relative URL): it goes the strict way below.
    if (target?.charCodeAt(0) === 47 /* / */ && target.charCodeAt(1) !== 47) {
      // Parsed only when asked for (the code URLs' signatures): a segment's 302 needs only the path.
      const query = target.indexOf('?');
      return new OriginTarget(query < 0 ? target : target.slice(0, query), target);
    }
    const url = new URL(target ?? '');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return { rawPath: url.pathname, url };
  } catch {
    return undefined;
  }
}

/**
 * RFC 9110 §13.1.5: a Range applies only while the If-Range validator still names this
 * representation (a strong ETag, or its exact Last-Modified date); otherwise the whole body is sent.
 */
export function rangeStillApplies(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag; // a weak tag never matches
  return value === lastModified;
}

/** One answer, its length stated (one write, no chunked framing). */
function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer, head: boolean): void {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  // 204 and 304 have no body, and no length (RFC 9110 §8.6).
  res.writeHead(status, status === 204 || status === 304 ? headers : { 'Content-Length': String(length), ...headers });
  res.end(head ? undefined : body);
}

async function serveCode(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  name: string,
  backend: LocalBackend,
  cors = true,
): Promise<void> {
  const head = req.method === 'HEAD';
  const CORS = cors ? CORS_HEADERS : {};
  const verdict = backend.signer.verify(name, url.searchParams, backend.clock());
  if (verdict !== 'ok') {
    send(
      res,
      403,
      { ...CORS, 'Content-Type': 'text/plain' },
      `${verdict === 'expired' ? 'URL expired' : 'signature does not match'}\n`,
      head,
    );
    return;
  }
  let file: FileHandle;
  let size: number;
  let mtime: Date;
  try {
    file = await backend.code.openPackage(name);
  } catch {
    send(res, 404, { ...CORS, 'Content-Type': 'text/plain' }, 'no such package\n', head);
    return;
  }
  try {
    ({ size, mtime } = await file.stat());
  } catch {
    await file.close();
    send(res, 404, { ...CORS, 'Content-Type': 'text/plain' }, 'no such package\n', head);
    return;
  }
  const etag = `"${size.toString(16)}-${mtime.getTime().toString(16)}"`;
  const lastModified = mtime.toUTCString();
  const base = {
    ...CORS,
    'Accept-Ranges': 'bytes',
    'Content-Type': 'application/zip',
    'Cache-Control': 'private, max-age=60',
    ETag: etag,
    'Last-Modified': lastModified,
  };
  const ifRange = req.headers['if-range'];
  const range = rangeStillApplies(typeof ifRange === 'string' ? ifRange : undefined, etag, lastModified)
    ? parseRange(req.headers.range, size)
    : undefined;
  if (range === 'unsatisfiable') {
    await file.close();
    send(res, 416, { ...base, 'Content-Range': `bytes */${size}` }, '', head);
    return;
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  res.writeHead(range ? 206 : 200, {
    ...base,
    'Content-Length': String(end - start + 1),
    ...(range && { 'Content-Range': `bytes ${start}-${end}/${size}` }),
  });
  if (head || size === 0) {
    await file.close();
    res.end();
    return;
  }
  // pipeline ends the file's stream (which closes the file) when the answer is sent, fails, or the
  // player goes away mid-way (a seek, a cancelled fetch): pipe() would leave it open until GC.
  pipeline(file.createReadStream({ start, end }), res, () => {});
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { backend } = options;
  const urls = new PackageUrlCache(backend.clock);
  const records = new ServeRecordCache(backend.clock);
  const caches = newDeliverCaches(backend.clock, { urls, records });
  let selfUrl = '';
  const codeServer = options.separateCodeOrigin ? await startCodeServer(backend) : undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const head = req.method === 'HEAD';
    const target = requestTarget(req.url);
    if (!target) {
      send(res, 400, { 'Content-Type': 'text/plain' }, 'bad request target\n', head);
      return;
    }
    const { rawPath, url } = target;
    // CORS is for the media (playlists, segments, code URLs), which a player on any page may read;
    // the API lists what this user converted, so only the page this server serves may read it.
    const media = rawPath.startsWith('/v/') || rawPath.startsWith(`${PROXY_PREFIX}/v/`) || CODE_PATH.test(rawPath);
    if (req.method === 'OPTIONS') {
      const allow = { Allow: 'GET, HEAD, OPTIONS' };
      const cors = media ? { ...CORS_HEADERS, 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Max-Age': '600' } : {};
      send(res, 204, { ...allow, ...cors }, '', true);
      return;
    }
    const code = CODE_PATH.exec(rawPath);
    if (code && (req.method === 'GET' || head) && !codeServer) {
      await serveCode(req, res, url, code[1]!, backend);
      return;
    }
    if (rawPath.startsWith(`${PROXY_PREFIX}/v/`)) {
      const request = serveRequest(req.method, rawPath.slice(PROXY_PREFIX.length), req.headers);
      sendDelivered(res, await deliverSegment(request, backend, caches), head);
      return;
    }
    if (rawPath.startsWith('/v/')) {
      const answer = await serveSegment(serveRequest(req.method, rawPath, req.headers), backend, { urls, records });
      // Our own code URLs go out path-relative, so they work through whatever host name the player used.
      const location = answer.headers.Location;
      if (location?.startsWith(`${selfUrl}/`)) answer.headers.Location = location.slice(selfUrl.length);
      send(res, answer.status, answer.headers, answer.body, head);
      return;
    }
    if (req.method !== 'GET' && !head) {
      send(res, 405, { Allow: 'GET, HEAD, OPTIONS', 'Content-Type': 'text/plain' }, 'method not allowed\n', head);
      return;
    }
    if (rawPath === '/') {
      const page = playerPage({ codeCrossOrigin: codeServer !== undefined });
      send(res, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, page, head);
    } else if (rawPath.startsWith('/watch/') || rawPath === HLS_SCRIPT_PATH || rawPath === '/hls.min.js') {
      // `/hls.min.js`: where pages loaded before this version look for it.
      const path = rawPath === '/hls.min.js' ? HLS_SCRIPT_PATH : rawPath;
      const options = { deliveryBase: PROXY_PREFIX, codeCrossOrigin: codeServer !== undefined };
      const answer = await servePage(serveRequest(req.method, path, req.headers), backend, caches, options);
      if (answer) send(res, answer.status, answer.headers, answer.body, head);
      else send(res, 404, { 'Content-Type': 'text/plain' }, 'not found\n', head);
    } else if (rawPath === '/api/stats') {
      // How well the playback caches work: store look-ups since the server started.
      const stats = { urlLookups: urls.lookups, routeLoads: records.routes.loads, playlistLoads: records.playlists.loads };
      send(res, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify(stats), head);
    } else if (rawPath === '/api/videos') {
      const { routes } = await listRoutes(backend.objects); // an unreadable record is left out, not a 500 for all
      const videos = routes.sort(byNewest).map((r) => ({
        ...routeSummary(r),
        playlist: playbackPath(r.videoId),
        proxiedPlaylist: `${PROXY_PREFIX}${playbackPath(r.videoId)}`,
        ...(r.pictures?.posterKey && { poster: posterPath(r.videoId) }),
      }));
      send(res, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify(videos), head);
    } else {
      send(res, 404, { 'Content-Type': 'text/plain' }, 'not found\n', head);
    }
  };

  const { log } = options;
  const server = createServer((req, res) => {
    if (log) res.on('finish', () => log(`${req.method} ${req.url} ${res.statusCode}`));
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { 'Content-Type': 'text/plain' }, `internal error: ${(error as Error).message}\n`, false);
      else res.destroy();
    });
  });
  limitConnections(server, options.maxConnections ?? MAX_CONNECTIONS);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  selfUrl = `http://${shownHost}:${port}`;
  backend.setBaseUrl(codeServer?.url ?? selfUrl);
  return {
    url: selfUrl,
    port,
    urls,
    close: async () => {
      await Promise.all([closeServer(server), codeServer && closeServer(codeServer.server)]);
    },
  };
}

/**
 * Keeps at most `max` connections open: when one more arrives, the connection idle the longest
 * (no request in flight) is closed — a client holding idle connections loses them, a player
 * fetching segments keeps its own. Only when every connection is busy is the new one refused.
 * Headers must arrive within `HEADERS_TIMEOUT_MS`, so idle connections also end by themselves.
 */
function limitConnections(server: Server, max: number): void {
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = 3 * HEADERS_TIMEOUT_MS;
  const idle = new Set<Socket>(); // insertion order: the longest idle first
  let open = 0;
  server.on('connection', (socket: Socket) => {
    open += 1;
    socket.once('close', () => {
      open -= 1;
      idle.delete(socket);
    });
    if (open > max) {
      const oldest = idle.values().next().value;
      (oldest ?? socket).destroy();
      if (!oldest) return;
    }
    idle.add(socket);
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const { socket } = req;
    idle.delete(socket);
    res.once('close', () => {
      if (!socket.destroyed) idle.add(socket);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function sendDelivered(res: ServerResponse, answer: DeliverResponse, head: boolean): void {
  if (typeof answer.body === 'string' || Buffer.isBuffer(answer.body)) {
    send(res, answer.status, answer.headers, answer.body, head);
    return;
  }
  res.writeHead(answer.status, answer.headers);
  // As the package files: both ends closed however the answer ends.
  pipeline(answer.body, res, () => {});
}

/** The package URLs on a port of their own, without CORS headers: AWS's code bucket, locally. */
async function startCodeServer(backend: LocalBackend): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const target = requestTarget(req.url);
    const code = target && CODE_PATH.exec(target.rawPath);
    if (code && (req.method === 'GET' || req.method === 'HEAD')) {
      serveCode(req, res, target.url, code[1]!, backend, false).catch(() => res.destroy());
    } else send(res, 404, { 'Content-Type': 'text/plain' }, 'not found\n', req.method === 'HEAD');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
