// Emulated Lambda control plane, for the functions the product creates at run time (the segment
// packages), written from the Lambda API reference (REST-JSON, 2015-03-31): CreateFunction (ZipFile
// or S3 source, within the request size AWS accepts), GetFunction (Code.Location: an expiring
// presigned URL of the emulated S3 holding the zip), UpdateFunctionCode, DeleteFunction,
// ListFunctions (paged), GetAccountSettings (code storage and the account's concurrency) and
// GetFunctionConcurrency. A new function takes its request's transfer time and is Pending for a
// while before it is Active (CREATE_PROFILES). Errors have AWS's shapes; CreateFunction,
// UpdateFunctionCode and DeleteFunction share the account's 15 requests/s, GetFunction has 100/s.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { AccountConcurrency } from './concurrency';
import { accessKeyOf, type Iam } from './iam';

/** CreateFunction's request (the zip base64-encoded inside JSON) must be smaller than this. */
export const REQUEST_LIMIT = 69_905_067;
/** Lambda-managed code storage per region (300 GB since 2026). */
const CODE_STORAGE = 300 * 1000 ** 3;
const CODE_URL_SECONDS = 600;

interface StoredFunction {
  configuration: Record<string, unknown>;
  codeKey: string;
  /** How CreateFunction was given the code, and the size of that request. */
  created: { source: 'ZipFile' | 'S3'; requestBytes: number };
  /** When the function leaves Pending for Active (epoch ms). */
  activeAt: number;
}

/**
 * How long a CreateFunction takes. AWS publishes no figures: a new function is Pending while Lambda
 * provisions it, then Active, "in most cases ... very fast" (AWS Compute Blog, "Tracking the state
 * of Lambda functions", 2019); its request body (up to ~70 MB for a direct zip) has to travel
 * first. `aws`, the default, is a quick create; `slow` is a pessimistic one, within the budget the
 * product sizes its batches by (src/core/packing.ts CREATE_FUNCTION_BUDGET: 10 MB/s, 3 s, 30 s).
 */
export interface CreateProfile {
  /** Lambda's answer time, besides the body's transfer. */
  requestMs: number;
  /** How long the function stays Pending. */
  pendingMs: number;
  /** How fast the request's body arrives. */
  bytesPerSecond: number;
}

export const CREATE_PROFILES = {
  aws: { requestMs: 200, pendingMs: 1_000, bytesPerSecond: 100_000_000 },
  /** Answered at once and Active at once: the most requests a second the steps can make (a rate test's worst case). */
  instant: { requestMs: 0, pendingMs: 0, bytesPerSecond: Number.POSITIVE_INFINITY },
  slow: { requestMs: 2_000, pendingMs: 10_000, bytesPerSecond: 10_000_000 },
} satisfies Record<string, CreateProfile>;

export interface LambdaEmulator {
  endpoint: string;
  /** Every segment function there is, by name. */
  functions: Map<string, StoredFunction>;
  /** Requests refused for the rate, by action. */
  throttled: Map<string, number>;
  /**
   * The control plane's requests a second (AWS's 15, from the options): a test of the throttling
   * lowers it, so that it is outpaced whatever this machine's speed (a slow one made fewer than 15).
   */
  controlRate: number;
  /** The account's code storage (default Lambda's 300 GB): set it low to fill the account. */
  codeStorageBytes: number | undefined;
  /** How CreateFunction behaves: its latency, transfer rate and Pending time (CREATE_PROFILES). */
  createProfile: CreateProfile;
  /** GetFunction answers that found a function still Pending, by the caller's access key. */
  pendingReads: Map<string, number>;
  close(): Promise<void>;
}

/** A token bucket: `rate()` requests a second, bursts up to that many. */
function rateLimit(rateOf: () => number, now: () => number) {
  let tokens: number | undefined; // full at the first request
  let at = now();
  return (): boolean => {
    const t = now();
    const rate = rateOf();
    tokens = Math.min(rate, (tokens ?? rate) + ((t - at) / 1000) * rate);
    at = t;
    if (tokens < 1) return false;
    tokens--;
    return true;
  };
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export async function startLambda(options: {
  account: string;
  region: string;
  /** Where the zips are kept: a bucket of the emulated S3, read through presigned URLs. */
  s3Endpoint: string;
  codeBucket: string;
  /** The emulator's own key in the emulated S3. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Rates of the account's control plane (AWS: 15 and 100 a second; tests may lower them). */
  rates?: { control: number; getFunction: number };
  now?: () => number;
  /** Evaluates each call against the caller's policies. */
  iam?: Iam;
  /** The account's concurrency (GetAccountSettings, GetFunctionConcurrency read it). */
  concurrency: AccountConcurrency;
}): Promise<LambdaEmulator> {
  const now = options.now ?? Date.now;
  // Path-style: the presigned Code.Location must open in any player, which resolves `localhost` but not `<bucket>.localhost`.
  const s3 = new S3Client({ region: options.region, endpoint: options.s3Endpoint, credentials: options.credentials, forcePathStyle: true });
  const functions = new Map<string, StoredFunction>();
  const throttled = new Map<string, number>();
  const control = rateLimit(() => emulator.controlRate, now);
  const getFunctionRate = options.rates?.getFunction ?? 100;
  const getFunction = rateLimit(() => getFunctionRate, now);

  const emulator: LambdaEmulator = {
    endpoint: '',
    functions,
    throttled,
    controlRate: options.rates?.control ?? 15,
    codeStorageBytes: undefined,
    createProfile: CREATE_PROFILES.aws,
    pendingReads: new Map(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const arn = (name: string) => `arn:aws:lambda:${options.region}:${options.account}:function:${name}`;
  const limited = (action: string, allow: () => boolean) => {
    if (allow()) return;
    throttled.set(action, (throttled.get(action) ?? 0) + 1);
    throw new ApiError(429, 'TooManyRequestsException', 'Rate exceeded');
  };

  async function storeCode(name: string, code: { ZipFile?: string; S3Bucket?: string; S3Key?: string }) {
    let zip: Buffer;
    if (code.ZipFile) zip = Buffer.from(code.ZipFile, 'base64');
    else if (code.S3Bucket && code.S3Key) {
      const object = await s3.send(new GetObjectCommand({ Bucket: code.S3Bucket, Key: code.S3Key })).catch(() => undefined);
      if (!object?.Body)
        throw new ApiError(
          400,
          'InvalidParameterValueException',
          `Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist.`,
        );
      zip = Buffer.from(await object.Body.transformToByteArray());
    } else throw new ApiError(400, 'InvalidParameterValueException', 'Code must have ZipFile or S3Bucket and S3Key');
    const codeKey = `${name}/${createHash('sha256').update(zip).digest('hex')}.zip`;
    await s3.send(new PutObjectCommand({ Bucket: options.codeBucket, Key: codeKey, Body: zip }));
    return { codeKey, CodeSha256: createHash('sha256').update(zip).digest('base64'), CodeSize: zip.length };
  }

  async function location(codeKey: string): Promise<string> {
    return getSignedUrl(s3, new GetObjectCommand({ Bucket: options.codeBucket, Key: codeKey }), { expiresIn: CODE_URL_SECONDS });
  }

  /** The configuration with the state it is in now: Pending until `activeAt`, then Active. */
  const stateOf = (fn: StoredFunction) =>
    now() < fn.activeAt
      ? { ...fn.configuration, State: 'Pending', StateReason: 'The function is being created.', StateReasonCode: 'Creating' }
      : { ...fn.configuration, State: 'Active', LastUpdateStatus: 'Successful' };

  const usage = () => [...functions.values()].reduce((sum, f) => sum + Number(f.configuration.CodeSize), 0);

  async function route(req: IncomingMessage): Promise<[number, unknown]> {
    const url = new URL(req.url ?? '/', 'http://lambda');
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const raw = await body(req);
    const accessKeyId = accessKeyOf(req.headers, url.searchParams) ?? 'anonymous';
    const authorize = async (action: string, resource: string, context?: Record<string, string>) => {
      if (!options.iam || (await options.iam.allows(accessKeyId, action, resource, { ...(context && { context }) }))) return;
      throw new ApiError(
        403,
        'AccessDeniedException',
        `User: ${options.iam.principalOf(accessKeyId)} is not authorized to perform: ${action} on resource: ${resource}`,
      );
    };
    if (method === 'GET' && path === '/2016-08-19/account-settings') {
      await authorize('lambda:GetAccountSettings', '*');
      return [
        200,
        {
          AccountLimit: {
            TotalCodeSize: emulator.codeStorageBytes ?? CODE_STORAGE,
            CodeSizeZipped: 52428800,
            CodeSizeUnzipped: 262144000,
            ConcurrentExecutions: options.concurrency.limit,
            UnreservedConcurrentExecutions: options.concurrency.unreserved,
          },
          AccountUsage: { TotalCodeSize: usage(), FunctionCount: functions.size },
        },
      ];
    }
    if (method === 'POST' && path === '/2015-03-31/functions') {
      limited('CreateFunction', control);
      if (raw.length >= REQUEST_LIMIT)
        throw new ApiError(
          413,
          'RequestEntityTooLargeException',
          `Request must be smaller than ${REQUEST_LIMIT} bytes for the CreateFunction operation`,
        );
      const input = JSON.parse(raw.toString('utf8')) as Record<string, unknown> & { FunctionName: string; Code: Record<string, string> };
      await authorize('lambda:CreateFunction', arn(input.FunctionName));
      await authorize('iam:PassRole', String(input.Role), { 'iam:PassedToService': 'lambda.amazonaws.com' });
      if (!input.Runtime || !input.Role || !input.Handler)
        throw new ApiError(400, 'InvalidParameterValueException', 'Runtime, Role and Handler are required for a zip package');
      if (functions.has(input.FunctionName))
        throw new ApiError(409, 'ResourceConflictException', `Function already exist: ${input.FunctionName}`);
      const code = await storeCode(input.FunctionName, input.Code);
      // The request's body takes its transfer time, then Lambda answers; the function starts Pending.
      const profile = emulator.createProfile;
      await new Promise((r) => setTimeout(r, (raw.length / profile.bytesPerSecond) * 1000 + profile.requestMs));
      if (functions.has(input.FunctionName))
        throw new ApiError(409, 'ResourceConflictException', `Function already exist: ${input.FunctionName}`);
      const configuration = {
        FunctionName: input.FunctionName,
        FunctionArn: arn(input.FunctionName),
        Runtime: input.Runtime,
        Role: input.Role,
        Handler: input.Handler,
        Description: input.Description ?? '',
        MemorySize: input.MemorySize ?? 128,
        Timeout: input.Timeout ?? 3,
        CodeSha256: code.CodeSha256,
        CodeSize: code.CodeSize,
        PackageType: 'Zip',
        LastModified: new Date(now()).toISOString(),
      };
      const stored: StoredFunction = {
        configuration,
        codeKey: code.codeKey,
        created: { source: input.Code.ZipFile ? 'ZipFile' : 'S3', requestBytes: raw.length },
        activeAt: now() + profile.pendingMs,
      };
      functions.set(input.FunctionName, stored);
      return [201, stateOf(stored)];
    }
    if (method === 'GET' && path === '/2015-03-31/functions') {
      await authorize('lambda:ListFunctions', '*');
      const names = [...functions.keys()].sort();
      const start = url.searchParams.get('Marker') ? names.indexOf(url.searchParams.get('Marker')!) : 0;
      const max = Math.min(50, Number(url.searchParams.get('MaxItems') ?? 50));
      const page = names.slice(start, start + max);
      const next = names[start + max];
      return [200, { Functions: page.map((n) => stateOf(functions.get(n)!)), ...(next && { NextMarker: next }) }];
    }
    // GetFunctionConcurrency: any function of the account (the stack's own too), as its reservation stands.
    const concurrency = /^\/2019-09-30\/functions\/([^/]+)\/concurrency$/.exec(path);
    if (method === 'GET' && concurrency) {
      const name = decodeURIComponent(concurrency[1]!).replace(/^arn:aws:lambda:[^:]+:\d+:function:/, '');
      await authorize('lambda:GetFunctionConcurrency', arn(name));
      const reserved = options.concurrency.reserved.get(name);
      return [200, reserved === undefined ? {} : { ReservedConcurrentExecutions: reserved }];
    }
    const one = /^\/2015-03-31\/functions\/([^/]+)(\/code)?$/.exec(path);
    if (one) {
      const name = decodeURIComponent(one[1]!).replace(/^arn:aws:lambda:[^:]+:\d+:function:/, '');
      const fn = functions.get(name);
      if (method === 'GET' && !one[2]) {
        await authorize('lambda:GetFunction', arn(name));
        limited('GetFunction', getFunction);
        if (!fn) throw new ApiError(404, 'ResourceNotFoundException', `Function not found: ${arn(name)}`);
        const configuration = stateOf(fn);
        if (configuration.State === 'Pending') emulator.pendingReads.set(accessKeyId, (emulator.pendingReads.get(accessKeyId) ?? 0) + 1);
        return [200, { Configuration: configuration, Code: { RepositoryType: 'S3', Location: await location(fn.codeKey) } }];
      }
      if (method === 'PUT' && one[2]) {
        await authorize('lambda:UpdateFunctionCode', arn(name));
        limited('UpdateFunctionCode', control);
        if (!fn) throw new ApiError(404, 'ResourceNotFoundException', `Function not found: ${arn(name)}`);
        if (now() < fn.activeAt)
          throw new ApiError(
            409,
            'ResourceConflictException',
            'The operation cannot be performed at this time. The function is currently in the following state: Pending',
          );
        const code = await storeCode(name, JSON.parse(raw.toString('utf8')) as Record<string, string>);
        Object.assign(fn.configuration, {
          CodeSha256: code.CodeSha256,
          CodeSize: code.CodeSize,
          LastModified: new Date(now()).toISOString(),
        });
        fn.codeKey = code.codeKey;
        return [200, stateOf(fn)];
      }
      if (method === 'DELETE' && !one[2]) {
        await authorize('lambda:DeleteFunction', arn(name));
        limited('DeleteFunction', control);
        if (!fn) throw new ApiError(404, 'ResourceNotFoundException', `Function not found: ${arn(name)}`);
        functions.delete(name);
        return [204, undefined];
      }
    }
    throw new ApiError(404, 'UnknownOperationException', `${method} ${path} is not emulated`);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    route(req).then(
      ([status, out]) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(out === undefined ? undefined : JSON.stringify(out));
      },
      (error: Error) => {
        const api = error instanceof ApiError ? error : new ApiError(500, 'ServiceException', error.message);
        res.writeHead(api.status, {
          'Content-Type': 'application/json',
          'x-amzn-ErrorType': api.type,
          ...(api.status === 429 && { 'Retry-After': '1' }),
        });
        res.end(JSON.stringify({ Type: api.status >= 500 ? 'Service' : 'User', message: api.message }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  emulator.endpoint = `http://lambda.localhost:${port}`;
  return emulator;
}
