// Emulated API Gateway HTTP API: the template's routes (AWS::ApiGatewayV2::Route, RouteKey
// "GET /v/{videoId}/…") to their Lambda proxy integration, with payload format 2.0 events, and the
// function's { statusCode, headers, body } mapped back to HTTP. A path no route matches is 404
// {"message":"Not Found"}, as API Gateway answers. The stage's DefaultRouteSettings throttle every
// route with a token bucket (429 {"message":"Too Many Requests"} when it is empty), and a function
// throttled by its reserved concurrency is a 500 {"message":"Internal Server Error"}, as API
// Gateway answers for a Lambda integration it cannot invoke.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type Account, type Json, resourcesOfType, type Template } from './stack';

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  routeKey: string;
  functionArn: string;
}

export interface ApiEmulator {
  port: number;
  endpoint: string;
  /** Routes the template's routes (call once the template is known). */
  route(template: Template, account: Account): void;
  close(): Promise<void>;
}

function compile(routeKey: string): Omit<Route, 'functionArn'> {
  const [method, path] = routeKey.split(' ') as [string, string];
  const names: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([^}]+)\\?\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  return { method, pattern, names, routeKey };
}

/** Starts on a port of its own; the endpoint must be known before the template is resolved (it is PlaybackBaseUrl). */
export async function startApi(invoke: (arn: string, event: unknown) => Promise<unknown>): Promise<ApiEmulator> {
  let routes: Route[] = [];
  let bucket: { rate: number; burst: number; tokens: number; at: number } | undefined;
  const admitted = () => {
    if (!bucket) return true;
    const now = Date.now();
    bucket.tokens = Math.min(bucket.burst, bucket.tokens + ((now - bucket.at) / 1000) * bucket.rate);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!admitted()) {
      res.writeHead(429, { 'Content-Type': 'application/json' }).end('{"message":"Too Many Requests"}');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://api');
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    const route = routes.find((r) => r.method === method && r.pattern.test(url.pathname));
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"Not Found"}');
      return;
    }
    const values = route.pattern.exec(url.pathname)!.slice(1);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
    const event = {
      version: '2.0',
      routeKey: route.routeKey,
      rawPath,
      rawQueryString: url.search.slice(1),
      headers,
      pathParameters: Object.fromEntries(route.names.map((name, i) => [name, decodeURIComponent(values[i]!)])),
      requestContext: {
        http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
        routeKey: route.routeKey,
        stage: '$default',
        timeEpoch: Date.now(),
      },
      isBase64Encoded: false,
    };
    invoke(route.functionArn, event).then(
      (result) => {
        const out = (result ?? {}) as { statusCode?: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean };
        res.writeHead(out.statusCode ?? 200, out.headers ?? {});
        res.end(out.isBase64Encoded ? Buffer.from(out.body ?? '', 'base64') : (out.body ?? ''));
      },
      () => res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"message":"Internal Server Error"}'),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return {
    port,
    // Players resolve `localhost`; names under it only the rehearsal's own processes do.
    endpoint: `http://localhost:${port}`,
    route(template, account) {
      const settings = resourcesOfType(template, account, 'AWS::ApiGatewayV2::Stage')[0]?.[1]?.DefaultRouteSettings as Json | undefined;
      if (settings?.ThrottlingRateLimit !== undefined) {
        const burst = Number(settings.ThrottlingBurstLimit);
        bucket = { rate: Number(settings.ThrottlingRateLimit), burst, tokens: burst, at: Date.now() };
      }
      const integrations = new Map(
        resourcesOfType(template, account, 'AWS::ApiGatewayV2::Integration').map(([id, p]) => [id, String(p.IntegrationUri)]),
      );
      routes = resourcesOfType(template, account, 'AWS::ApiGatewayV2::Route').map(([, p]: [string, Json]) => {
        const integration = String(p.Target).replace(/^integrations\//, '');
        return { ...compile(String(p.RouteKey)), functionArn: integrations.get(integration) ?? integration };
      });
    },
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
