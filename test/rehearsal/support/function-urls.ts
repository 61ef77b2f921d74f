// Emulated Lambda function URLs: each AWS::Lambda::Url of the template answers under a host name of
// its own (`<id>.lambda-url.<region>.localhost`) with payload format 2.0 events, as Lambda sends
// them. Public access is checked as Lambda checks it since October 2025: AuthType NONE needs the
// function's policy to grant `*` both lambda:InvokeFunctionUrl (FunctionUrlAuthType NONE) and
// lambda:InvokeFunction (InvokedViaFunctionUrl), else every request is 403 {"Message":"Forbidden"}.
// RESPONSE_STREAM functions stream: their prelude (status and headers as JSON, then eight NUL
// bytes) becomes the response head, the rest its body as it is written. A function throttled by
// its reserved concurrency is a 429; one that fails is a 502.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { InvocationError } from './functions';
import { type Account, functionUrlHost, type Json, resourcesOfType, type Template } from './stack';

interface UrlConfig {
  functionArn: string;
  streaming: boolean;
  public: boolean;
}

export interface FunctionUrlEmulator {
  port: number;
  /** Routes the template's function URLs (call once the template is known). */
  route(template: Template, account: Account): void;
  close(): Promise<void>;
}

const DELIMITER = Buffer.alloc(8);

function grantsPublicAccess(template: Template, account: Account, functionArn: string): boolean {
  const grants = resourcesOfType(template, account, 'AWS::Lambda::Permission')
    .map(([, p]: [string, Json]) => p)
    .filter((p) => p.FunctionName === functionArn && p.Principal === '*');
  const url = grants.some((p) => p.Action === 'lambda:InvokeFunctionUrl' && p.FunctionUrlAuthType === 'NONE');
  const invoke = grants.some((p) => p.Action === 'lambda:InvokeFunction' && p.InvokedViaFunctionUrl === true);
  return url && invoke;
}

export async function startFunctionUrls(
  invoke: (arn: string, event: unknown, onChunk?: (chunk: Buffer) => void) => Promise<unknown>,
): Promise<FunctionUrlEmulator> {
  let urls = new Map<string, UrlConfig>();
  const json = (res: ServerResponse, status: number, message: string) =>
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Message: message }));

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
    const config = urls.get(host);
    if (!config) return json(res, 404, 'Not Found');
    if (!config.public) return json(res, 403, 'Forbidden');
    const url = new URL(req.url ?? '/', 'http://function');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
    const method = req.method ?? 'GET';
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: (req.url ?? '/').split('?')[0],
      rawQueryString: url.search.slice(1),
      headers,
      requestContext: {
        http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
        routeKey: '$default',
        stage: '$default',
        timeEpoch: Date.now(),
      },
      ...(body.length > 0 && { body: body.toString('base64') }),
      isBase64Encoded: body.length > 0,
    };
    let pending: Buffer | undefined = config.streaming ? Buffer.alloc(0) : undefined;
    const onChunk = (chunk: Buffer) => {
      if (pending === undefined) {
        res.write(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      const at = pending.indexOf(DELIMITER);
      if (at < 0) return;
      const prelude = JSON.parse(pending.subarray(0, at).toString('utf8')) as { statusCode?: number; headers?: Record<string, string> };
      const rest = pending.subarray(at + DELIMITER.length);
      pending = undefined;
      res.writeHead(prelude.statusCode ?? 200, prelude.headers ?? {});
      if (rest.length > 0 && method !== 'HEAD') res.write(rest);
    };
    invoke(config.functionArn, event, config.streaming ? onChunk : undefined).then(
      (result) => {
        if (config.streaming) {
          if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
          res.end();
          return;
        }
        const out = (result ?? {}) as { statusCode?: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean };
        res.writeHead(out.statusCode ?? 200, out.headers ?? {});
        res.end(out.isBase64Encoded ? Buffer.from(out.body ?? '', 'base64') : (out.body ?? ''));
      },
      (error: unknown) => {
        if (res.headersSent) return res.destroy(); // the body was cut: the client sees a short read
        if (error instanceof InvocationError && error.errorType === 'TooManyRequestsException') return json(res, 429, 'Rate Exceeded.');
        json(res, 502, 'Internal Server Error');
      },
    );
  };

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(parts)));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return {
    port,
    route(template, account) {
      urls = new Map(
        resourcesOfType(template, account, 'AWS::Lambda::Url').map(([id, p]: [string, Json]) => [
          functionUrlHost(id, account),
          {
            functionArn: String(p.TargetFunctionArn),
            streaming: p.InvokeMode === 'RESPONSE_STREAM',
            public: p.AuthType === 'NONE' && grantsPublicAccess(template, account, String(p.TargetFunctionArn)),
          },
        ]),
      );
    },
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
