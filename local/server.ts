// The local stand-in for API Gateway + serve-segment and for Lambda's code storage: playlists and
// 302s under /v/, signed package URLs under /code/ (with Range, like S3), a player page at /.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PackageUrlCache, ServeRecordCache, serveSegment } from '../functions/serve-segment/step';
import { playbackPath } from '../src/core/naming';
import type { LocalBackend } from '../src/composition/backends/local';
import { byNewest, listRoutes, routeSummary } from '../src/registry/routes';
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
}

const CODE_PATH = /^\/code\/([A-Za-z0-9_-]{1,64})\.zip$/;
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'Range',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges',
};

/** A single `bytes=` range (what players send) → inclusive bounds, 'unsatisfiable', or none. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // ignore what we do not understand, as S3 does
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

let hlsScript: Buffer | undefined;
function hlsJs(): Buffer {
  hlsScript ??= readFileSync(require.resolve('hls.js/dist/hls.min.js'));
  return hlsScript;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer, head: boolean): void {
  res.writeHead(status, headers);
  res.end(head ? undefined : body);
}

function serveCode(req: IncomingMessage, res: ServerResponse, url: URL, name: string, backend: LocalBackend): void {
  const head = req.method === 'HEAD';
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
  const path = backend.code.zipPath(name);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    send(res, 404, { ...CORS, 'Content-Type': 'text/plain' }, 'no such package\n', head);
    return;
  }
  const base = { ...CORS, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/zip', 'Cache-Control': 'private, max-age=60' };
  const range = parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    send(res, 416, { ...base, 'Content-Range': `bytes */${size}` }, '', head);
    return;
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  res.writeHead(range ? 206 : 200, {
    ...base,
    'Content-Length': String(end - start + 1),
    ...(range && { 'Content-Range': `bytes ${start}-${end}/${size}` }),
  });
  if (head) {
    res.end();
    return;
  }
  createReadStream(path, { start, end })
    .on('error', () => res.destroy())
    .pipe(res);
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { backend } = options;
  const urls = new PackageUrlCache(backend.clock);
  const records = new ServeRecordCache(backend.clock);
  let selfUrl = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    const url = new URL(req.url ?? '/', 'http://local');
    const head = req.method === 'HEAD';
    if (req.method === 'OPTIONS') {
      send(res, 204, { ...CORS, 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Max-Age': '600' }, '', true);
      return;
    }
    const code = CODE_PATH.exec(rawPath);
    if (code && (req.method === 'GET' || head)) {
      serveCode(req, res, url, code[1]!, backend);
      return;
    }
    if (rawPath.startsWith('/v/')) {
      const answer = await serveSegment({ method: req.method ?? 'GET', path: rawPath }, backend, { urls, records });
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
      send(res, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, playerPage(), head);
    } else if (rawPath === '/hls.min.js') {
      send(res, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }, hlsJs(), head);
    } else if (rawPath === '/api/stats') {
      // How well the playback caches work: store look-ups since the server started.
      const stats = { urlLookups: urls.lookups, routeLoads: records.routes.loads, playlistLoads: records.playlists.loads };
      send(res, 200, { ...CORS, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify(stats), head);
    } else if (rawPath === '/api/videos') {
      const routes = await listRoutes(backend.objects);
      const videos = routes.sort(byNewest).map((r) => ({ ...routeSummary(r), playlist: playbackPath(r.videoId) }));
      send(res, 200, { ...CORS, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify(videos), head);
    } else {
      send(res, 404, { 'Content-Type': 'text/plain' }, 'not found\n', head);
    }
  };

  const server = createServer((req, res) => {
    res.on('finish', () => options.log?.(`${req.method} ${req.url} ${res.statusCode}`));
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { 'Content-Type': 'text/plain' }, `internal error: ${(error as Error).message}\n`, false);
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  selfUrl = `http://${shownHost}:${port}`;
  backend.setBaseUrl(selfUrl);
  return {
    url: selfUrl,
    port,
    urls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
