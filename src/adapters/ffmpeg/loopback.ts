// The static ffmpeg and ffprobe from npm are glibc-static: they load the host's NSS modules to
// resolve a host name and crash (exit 139) doing so, and in Lambda a presigned S3 URL is always a
// host name. So ffmpeg never opens one: it opens a relay on 127.0.0.1 that forwards each of its
// requests, Range included, to the real URL. Node resolves the name and speaks TLS.
// Every URL goes through it, names or not: the relay answers every path with the one URL it was
// made for, so ffmpeg (allowed http and tcp only) can reach nothing else.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The request headers ffmpeg sends that the upstream needs to answer the same way. */
const FORWARDED_REQUEST = ['range', 'user-agent', 'accept', 'icy-metadata'];
/** The response headers a byte-range reader needs back. */
const FORWARDED_RESPONSE = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'etag', 'last-modified'];
const MAX_REDIRECTS = 5;

export interface Loopback {
  /** What to hand ffmpeg instead of the original location. */
  location: string;
  close(): Promise<void>;
}

/** Whether this location is a URL (ffmpeg then opens the relay instead), not a path. */
export function needsLoopback(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

function upstream(method: string, target: URL, headers: Record<string, string>, redirects = 0): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method, headers }, (res) => {
      const location = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location && redirects < MAX_REDIRECTS) {
        res.resume();
        // ffmpeg would follow a redirect to a host name itself: follow it here instead.
        upstream(method, new URL(location, target), headers, redirects + 1).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
}

function relay(target: URL) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    upstream(req.method ?? 'GET', target, headers).then(
      (answer) => {
        const back: Record<string, string> = {};
        for (const name of FORWARDED_RESPONSE) {
          const value = answer.headers[name];
          if (typeof value === 'string') back[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, back);
        answer.pipe(res);
        res.on('close', () => answer.destroy());
      },
      (error: Error) => {
        // ffmpeg reports an HTTP error as the input's failure; the cause stays in the message.
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`relay: ${error.message}\n`);
      },
    );
  };
}

/** A location ffmpeg can open without resolving a name: a path as it is, a URL through a relay on 127.0.0.1 (closed by `close`). */
export async function loopbackFor(location: string): Promise<Loopback> {
  if (!needsLoopback(location)) return { location, close: async () => undefined };
  const target = new URL(location);
  const server = createServer(relay(target));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  // The path keeps the file name: ffmpeg guesses some formats from it.
  const name = target.pathname.split('/').pop() || 'input';
  return {
    location: `http://127.0.0.1:${port}/${name}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
