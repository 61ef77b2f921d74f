// Emulated S3: s3rver (a maintained S3 REST emulator on npm) behind a front that checks presigned
// URLs' signatures and expiry and evaluates IAM, on 127.0.0.1, reached as
// `http://s3.localhost:<port>` with buckets addressed by host (`<bucket>.s3.localhost`), as the SDK
// does by default; `http://localhost:<port>/<bucket>/…` (path style) for URLs any player opens. It sends no CORS headers (nor does AWS's code bucket). Object-created events are
// handed to `onObjectCreated` as S3 event notification records.
import { createHash } from 'node:crypto';
import { createServer, request as forward, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { crc32 } from '../../../src/core/zip';
import S3rver from 's3rver';
import { accessKeyOf, type Iam } from './iam';
import { verifySignature } from './sigv4';

interface AccountRegistry {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}

interface S3Record {
  eventName: string;
  s3: { bucket: { name: string }; object: { key: string } & Record<string, unknown> };
}

/** S3 delivers keys URL-encoded as a form would (`+` for a space); s3rver hands them over raw. */
function asDelivered(record: S3Record): S3Record {
  const key = encodeURIComponent(record.s3.object.key).replace(/%20/g, '+').replace(/%2F/g, '/');
  return { ...record, s3: { ...record.s3, object: { ...record.s3.object, key } } };
}

/** A request as the front sees it once IAM has allowed it. */
export interface S3Request {
  /** The caller's access key (in the rehearsal, it names the role). */
  accessKeyId: string;
  action: string;
  bucket: string;
  key: string;
  query: URLSearchParams;
}

/** What to do to a request instead of serving it at once: answer with an S3 server error, or serve it late; undefined to serve it. */
export type S3Fault = (
  request: S3Request,
) => { status: number; code: string } | { delayMs: number } | { until: Promise<unknown> } | undefined;

export interface S3Emulator {
  /** For the SDK: buckets by host name. */
  endpoint: string;
  /** For URLs handed to players, which resolve `localhost` but not names under it. */
  pathStyleEndpoint: string;

  port: number;
  /** Answers the requests `fault` picks with its error (as S3 does under load: 500 InternalError, 503 SlowDown), or late (after a delay, or once a promise settles), until the returned function is called. */
  failing(fault: S3Fault): () => void;
  close(): Promise<void>;
}

export async function startS3(options: {
  directory: string;
  buckets: string[];
  credentials: { accessKeyId: string; secretAccessKey: string }[];
  /** The buckets whose notification configuration sends object-created events (the input bucket). */
  notifying?: string[];
  onObjectCreated?: (event: { Records: unknown[] }) => void;
  /** Evaluates every request against the template's policies before s3rver sees it. */
  iam?: Iam;
}): Promise<S3Emulator> {
  // s3rver knows one account; every role's key is registered with it.
  const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account') as AccountRegistry;
  for (const { accessKeyId, secretAccessKey } of options.credentials) DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: options.directory,
    // <bucket>.s3.localhost is bucket <bucket>; plain localhost is path style.
    serviceEndpoint: 'localhost',
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  const { port: inner } = await server.run();
  const secrets = new Map(options.credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
  const faults = new Set<S3Fault>();
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // s3rver checks no SigV4 signature, nor a presigned URL's expiry: S3 does.
    const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('?');
    const verdict = verifySignature(req.method ?? 'GET', rawPath, rawQuery, req.headers, (key) => secrets.get(key), Date.now());
    if (verdict === 'bad-signature') {
      req.resume();
      return refuse(res, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
    if (verdict === 'expired') {
      req.resume();
      if (req.headers.authorization)
        return refuse(res, 'RequestTimeTooSkewed', 'The difference between the request time and the server time is too large.');
      return refuse(res, 'AccessDenied', 'Request has expired');
    }
    const decision = await authorize(req, options.iam);
    if (decision.denied) {
      req.resume();
      return deny(res, decision.denied);
    }
    if (decision.dotted) {
      // S3 holds such a key as any other; s3rver would store or read it outside its bucket. Refused,
      // never served as a key IAM did not judge.
      req.resume();
      return answerError(
        res,
        501,
        'NotImplemented',
        'the rehearsal\'s S3 cannot hold a key with a "." or ".." part (S3 takes it as a plain name)',
      );
    }
    // Read the whole body first, as S3 does: a client still sending would otherwise wait for its socket to time out.
    const received = await receive(req);
    for (const fault of faults) {
      const error = fault(decision.request);
      if (error && 'delayMs' in error) {
        await new Promise((resolve) => setTimeout(resolve, error.delayMs).unref());
        if (res.destroyed) return; // the caller has gone meanwhile
      } else if (error && 'until' in error) {
        await error.until;
        if (res.destroyed) return;
      } else if (error) return answerError(res, error.status, error.code, 'We encountered an internal error. Please try again.');
    }
    if ('error' in received) return answerError(res, 400, received.error.code, received.error.message);
    // s3rver has no AbortMultipartUpload (it answers MethodNotAllowed): S3 discards the parts and says 204.
    if (decision.request.action === 's3:AbortMultipartUpload') {
      res.writeHead(204).end();
      return;
    }
    // A PUT of one object waits for the one before it on that key: conditional writes are checked as S3 does, atomically.
    if (req.method === 'PUT' && decision.object && !decision.request.query.has('uploadId')) {
      const id = `${decision.bucket}/${decision.request.key}`;
      const before = writes.get(id) ?? Promise.resolve();
      const turn = before.then(() => putObject(req, res, decision, received));
      const settled = turn.then(
        () => undefined,
        () => undefined,
      );
      writes.set(id, settled);
      await turn;
      if (writes.get(id) === settled) writes.delete(id);
      return;
    }
    await pass(req, res, decision, received);
  }
  /** Each key's PUT under way. */
  const writes = new Map<string, Promise<void>>();

  /**
   * PutObject with S3's conditions (s3rver ignores them): If-None-Match: * only where there is no
   * object (else 412 PreconditionFailed), If-Match only where the object's ETag is the one given
   * (412; 404 NoSuchKey where there is none). Any other If-None-Match value is not implemented.
   */
  async function putObject(req: IncomingMessage, res: ServerResponse, decision: Decision, received: Accepted): Promise<void> {
    const ifMatch = received.headers['if-match'];
    const ifNoneMatch = received.headers['if-none-match'];
    if (ifMatch === undefined && ifNoneMatch === undefined) return pass(req, res, decision, received);
    if (ifNoneMatch !== undefined && ifNoneMatch !== '*') {
      return answerError(res, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented');
    }
    const current = await etagOf(decision.bucket, decision.request.key);
    if (ifNoneMatch === '*' && current !== undefined) {
      return answerError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
    }
    if (ifMatch !== undefined && current === undefined) return answerError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    if (ifMatch !== undefined && ifMatch !== current) {
      return answerError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
    }
    const headers = { ...received.headers };
    delete headers['if-match'];
    delete headers['if-none-match'];
    return pass(req, res, decision, { ...received, headers });
  }

  /** An object's ETag as s3rver has it (an anonymous HEAD, which s3rver serves), or undefined when there is none. */
  function etagOf(bucket: string, key: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const path = `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
      forward({ host: '127.0.0.1', port: inner, method: 'HEAD', path }, (answer) => {
        answer.resume();
        resolve(answer.statusCode === 200 ? String(answer.headers.etag) : undefined);
      })
        .on('error', reject)
        .end();
    });
  }

  /** Hands the request to s3rver and its answer back; settles when the answer has been sent. */
  function pass(req: IncomingMessage, res: ServerResponse, decision: Decision, received: Accepted): Promise<void> {
    const done = new Promise<void>((resolve) => res.once('close', resolve));
    const upstream = forward(
      { host: '127.0.0.1', port: inner, method: req.method, path: req.url, headers: received.headers },
      async (answer) => {
        // S3 answers a missing object with 403, not 404, to a caller that may not list the bucket.
        if (
          answer.statusCode === 404 &&
          decision.object &&
          options.iam &&
          !(await options.iam.allows(decision.accessKeyId, 's3:ListBucket', `arn:aws:s3:::${decision.bucket}`, {
            bucket: decision.bucket,
            question: true,
          }))
        ) {
          answer.resume();
          return deny(res, `s3:ListBucket on arn:aws:s3:::${decision.bucket}`);
        }
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    // A caller that hangs up (ffmpeg killed mid-read) ends the request to s3rver too.
    res.on('close', () => upstream.destroy());
    upstream.end(received.body);
    return done;
  }
  const front = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((done) => front.listen(0, '127.0.0.1', done));
  const { port } = front.address() as { port: number };
  if (options.onObjectCreated) {
    // S3's sequencers grow with each event on a key; s3rver's is the millisecond, the same for two uploads within one.
    let sequence = 0;
    const sequencer = () => {
      sequence = Math.max(sequence + 1, Date.now() * 1000);
      return sequence.toString(16).toUpperCase().padStart(16, '0');
    };
    server.on('event', (event: { Records: S3Record[] }) => {
      const records = event.Records.filter((r) => r.eventName.startsWith('ObjectCreated:') && options.notifying?.includes(r.s3.bucket.name))
        .map(asDelivered)
        .map((r) => ({ ...r, s3: { ...r.s3, object: { ...r.s3.object, sequencer: sequencer() } } }));
      if (records.length > 0) options.onObjectCreated!({ Records: records });
    });
  }
  return {
    endpoint: `http://s3.localhost:${port}`,
    pathStyleEndpoint: `http://localhost:${port}`,
    port,
    failing: (fault) => {
      faults.add(fault);
      return () => faults.delete(fault);
    },
    close: async () => {
      await new Promise<void>((done) => {
        front.close(() => done());
        front.closeAllConnections();
      });
      // The front's kept-alive connections to s3rver end with it.
      server.httpServer?.closeAllConnections();
      await server.close();
    },
  };
}

/**
 * The body of an `aws-chunked` upload (what the SDK sends for a stream: `<hex size>[;chunk-signature=…]\r\n<data>\r\n`
 * … `0\r\n`, then trailer lines such as the checksum, then `\r\n`), or undefined when it is not well formed.
 */
export function decodeAwsChunked(raw: Buffer): { data: Buffer; trailers: Record<string, string> } | undefined {
  const chunks: Buffer[] = [];
  let at = 0;
  for (;;) {
    const end = raw.indexOf('\r\n', at);
    if (end < 0) return undefined;
    const size = Number.parseInt(raw.subarray(at, end).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size)) return undefined;
    at = end + 2;
    if (size === 0) break;
    if (raw.length < at + size + 2 || raw.toString('latin1', at + size, at + size + 2) !== '\r\n') return undefined;
    chunks.push(raw.subarray(at, at + size));
    at += size + 2;
  }
  const trailers: Record<string, string> = {};
  for (const line of raw.subarray(at).toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { data: Buffer.concat(chunks), trailers };
}

/** The checksums S3 checks a body against, when the request gives them (as a header or an aws-chunked trailer). */
const CHECKSUMS: Record<string, [string, (body: Buffer) => string]> = {
  'x-amz-checksum-crc32': [
    'CRC32',
    (body) => {
      const value = Buffer.alloc(4);
      value.writeUInt32BE(crc32(body));
      return value.toString('base64');
    },
  ],
  'x-amz-checksum-sha256': ['SHA256', (body) => createHash('sha256').update(body).digest('base64')],
  'x-amz-checksum-sha1': ['SHA1', (body) => createHash('sha1').update(body).digest('base64')],
};

type Accepted = { body: Buffer; headers: IncomingHttpHeaders };
type Received = Accepted | { error: { code: string; message: string } };

/**
 * A request's body as S3 stores it, with the headers to hand s3rver (which knows no aws-chunked
 * encoding and checks no checksum): decoded, its declared length and checksums checked.
 */
async function receive(req: IncomingMessage): Promise<Received> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  let body: Buffer = Buffer.concat(parts);
  const headers = { ...req.headers };
  let trailers: Record<string, string> = {};
  if (String(headers['content-encoding'] ?? '').includes('aws-chunked')) {
    const decoded = decodeAwsChunked(body);
    const declared = Number(headers['x-amz-decoded-content-length']);
    if (!decoded || decoded.data.length !== declared)
      return {
        error: { code: 'IncompleteBody', message: 'You did not provide the number of bytes specified by the Content-Length HTTP header.' },
      };
    ({ data: body, trailers } = decoded);
    const encoding = String(headers['content-encoding'])
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e && e !== 'aws-chunked');
    if (encoding.length > 0) headers['content-encoding'] = encoding.join(',');
    else delete headers['content-encoding'];
    for (const name of ['x-amz-decoded-content-length', 'x-amz-trailer']) delete headers[name];
    headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  } else if (/^[0-9a-f]{64}$/.test(String(headers['x-amz-content-sha256'] ?? ''))) {
    if (createHash('sha256').update(body).digest('hex') !== headers['x-amz-content-sha256'])
      return {
        error: {
          code: 'XAmzContentSHA256Mismatch',
          message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
        },
      };
  }
  for (const [name, [algorithm, digest]] of Object.entries(CHECKSUMS)) {
    const given = trailers[name] ?? headers[name];
    if (typeof given === 'string' && given !== digest(body))
      return { error: { code: 'BadDigest', message: `The ${algorithm} you specified did not match the calculated checksum.` } };
  }
  delete headers['transfer-encoding'];
  headers['content-length'] = String(body.length);
  return { body, headers };
}

/** S3's REST calls as IAM actions (the ones this product and its users make). */
function s3Action(method: string, key: string, query: URLSearchParams): string {
  if (!key) {
    if (method === 'GET' || method === 'HEAD') return 's3:ListBucket';
    if (method === 'PUT') return 's3:CreateBucket';
    return method === 'POST' && query.has('delete') ? 's3:DeleteObject' : `s3:${method}Bucket`;
  }
  if (method === 'GET' || method === 'HEAD') return 's3:GetObject';
  if (method === 'PUT' || (method === 'POST' && (query.has('uploads') || query.has('uploadId')))) return 's3:PutObject';
  if (method === 'DELETE') return query.has('uploadId') ? 's3:AbortMultipartUpload' : 's3:DeleteObject';
  return `s3:Unknown${method}`;
}

interface Decision {
  accessKeyId: string;
  bucket: string;
  object: boolean;
  request: S3Request;
  denied?: string;
  /** A key with a `.` or `..` part, which s3rver would resolve as a path into another bucket. */
  dotted?: boolean;
}

async function authorize(req: IncomingMessage, iam: Iam | undefined): Promise<Decision> {
  // The key exactly as sent: S3 takes `.` and `..` as parts of a key's name, never as steps up a
  // path (a URL parser would resolve them, and IAM would judge another key than the one served).
  const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('?');
  const query = new URLSearchParams(rawQuery);
  const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
  const vhost = /^(.+)\.s3\.localhost$/.exec(host)?.[1];
  const segments = rawPath.split('/').slice(1);
  const bucket = vhost ?? decodeURIComponent(segments.shift() ?? '');
  const key = segments.map(decodeURIComponent).join('/');
  const accessKeyId = accessKeyOf(req.headers, query) ?? 'anonymous';
  const action = s3Action(req.method ?? 'GET', key, query);
  const decision: Decision = {
    accessKeyId,
    bucket,
    object: key !== '',
    request: { accessKeyId, action, bucket, key, query },
    ...(key.split('/').some((part) => part === '.' || part === '..') && { dotted: true }),
  };
  if (!iam) return decision;
  const resource = key ? `arn:aws:s3:::${bucket}/${key}` : `arn:aws:s3:::${bucket}`;
  if (!(await iam.allows(accessKeyId, action, resource, { bucket }))) decision.denied = `${action} on ${resource}`;
  return decision;
}

function answerError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>rehearsal</RequestId></Error>`,
  );
}

function refuse(res: ServerResponse, code: string, message: string): void {
  answerError(res, 403, code, message);
}

function deny(res: ServerResponse, what: string): void {
  answerError(res, 403, 'AccessDenied', `Access Denied (${what})`);
}
