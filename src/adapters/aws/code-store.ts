// CodeStore on AWS Lambda: every package is the code of a function that is never invoked.
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetAccountSettingsCommand,
  GetFunctionCommand,
  paginateListFunctions,
  UpdateFunctionCodeCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
  type FunctionCode,
  type LambdaClient,
  type Runtime,
} from '@aws-sdk/client-lambda';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AccountLimits, CodeStore, PackageInfo, PackageLocation, PackageSource, StoredPackage } from '../../ports';
import { collectBytes } from '../streams';
import { CREATE_FUNCTION_BUDGET, DIRECT_UPLOAD_BYTES } from '../../core/packing';
import { ResourceConflictException } from '../../core/errors';
import { readRange, streamRange } from '../http-range';
import { retryThrottled, type RetryOptions } from '../../core/retry';

/** GetFunction's Code.Location is "valid for up to 10 minutes". */
export const CODE_URL_LIFETIME_MS = 10 * 60 * 1000;

export interface LambdaCodeStoreOptions {
  /** A role with no permissions: segment functions are never invoked. Asked for only when creating. */
  roleArn: string | (() => string);
  /** The segment functions' runtime (LAMBDA_HLS_SEGMENT_RUNTIME): creation with a retired one is refused. */
  runtime: string;
  /** Bucket and prefix where packages over 50 MB are staged for CreateFunction. Asked for only when staging. */
  stagingBucket: string | (() => string);
  stagingPrefix?: string;
  /** Seconds to wait for new functions to become Active (CREATE_FUNCTION_BUDGET.activeSeconds). */
  activeWaitSeconds?: number;
  retry?: RetryOptions;
  now?: () => number;
}

function sha256Base64(zip: Buffer): string {
  return createHash('sha256').update(zip).digest('base64');
}

async function* hashing(chunks: AsyncIterable<Uint8Array>, hash: Hash): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
}

/** What every SDK answer (and error) carries: how many attempts it took. */
interface SdkOutput {
  $metadata?: { attempts?: number };
}

function given(value: string | (() => string)): string {
  return typeof value === 'function' ? value() : value;
}

function named(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/** When the presigned URL stops working: X-Amz-Date + X-Amz-Expires when present, else 10 minutes. */
export function urlExpiry(url: string, fetchedAt: number): number {
  try {
    const query = new URL(url).searchParams;
    const date = query.get('X-Amz-Date');
    const expires = Number(query.get('X-Amz-Expires'));
    if (date && expires > 0) {
      const iso = date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z');
      const signed = Date.parse(iso);
      if (!Number.isNaN(signed)) return Math.min(signed + expires * 1000, fetchedAt + CODE_URL_LIFETIME_MS);
    }
  } catch {
    // not a URL we can read: fall back to the documented lifetime
  }
  return fetchedAt + CODE_URL_LIFETIME_MS;
}

export class LambdaCodeStore implements CodeStore {
  private readonly now: () => number;

  constructor(
    private readonly lambda: LambdaClient,
    private readonly s3: S3Client,
    private readonly options: LambdaCodeStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * One call, throttling retried (after the SDK's own retries); `retried` counts both, read from each
   * answer's $metadata.attempts, so what was absorbed still shows in the run's history.
   */
  private send<T>(call: () => Promise<T>, retried?: { count: number }): Promise<T> {
    const counted = async () => {
      try {
        const out = await call();
        if (retried) retried.count += Math.max(0, ((out as SdkOutput)?.$metadata?.attempts ?? 1) - 1);
        return out;
      } catch (error) {
        if (retried) retried.count += Math.max(0, ((error as SdkOutput)?.$metadata?.attempts ?? 1) - 1);
        throw error;
      }
    };
    return retryThrottled(counted, {
      ...this.options.retry,
      onRetry: (error, attempt) => {
        if (retried) retried.count++;
        this.options.retry?.onRetry?.(error, attempt);
      },
    });
  }

  async createPackage(name: string, source: PackageSource): Promise<StoredPackage> {
    const retried = { count: 0 };
    const roleArn = given(this.options.roleArn);
    const staged = source.size > DIRECT_UPLOAD_BYTES ? `${this.options.stagingPrefix ?? 'packages/'}${name}.zip` : undefined;
    const stagingBucket = staged ? given(this.options.stagingBucket) : '';
    let code: FunctionCode;
    let codeSha256: string;
    if (staged) {
      // Over 50 MB: streamed to the staging bucket (hashed on the way), never whole in memory.
      codeSha256 = await this.send(async () => {
        const hash = createHash('sha256');
        const body = Readable.from(hashing(source.chunks(), hash));
        await this.s3.send(new PutObjectCommand({ Bucket: stagingBucket, Key: staged, Body: body, ContentLength: source.size }));
        for await (const _ of body) {
          // The request has read it all; whatever it did not (a stub client) still counts in the hash.
        }
        return hash.digest('base64');
      });
      code = { S3Bucket: stagingBucket, S3Key: staged };
    } else {
      const zip = await collectBytes(source.chunks());
      codeSha256 = sha256Base64(zip);
      code = { ZipFile: zip };
    }
    const codeSize = source.size;
    try {
      let created = true;
      try {
        await this.send(
          () =>
            this.lambda.send(
              new CreateFunctionCommand({
                FunctionName: name,
                Role: roleArn,
                Runtime: this.options.runtime as Runtime,
                Handler: 'index.handler',
                PackageType: 'Zip',
                Code: code,
                Description: 'lambda-hls segment package (storage only, never invoked)',
                MemorySize: 128,
                Timeout: 1,
                Publish: false,
              }),
            ),
          retried,
        );
      } catch (error) {
        if (!named(error, 'ResourceConflictException')) throw error;
        // It exists: the same code is success; other code is replaced with ours.
        const existing = await this.send(() => this.lambda.send(new GetFunctionCommand({ FunctionName: name })), retried);
        if (existing.Configuration?.CodeSha256 === codeSha256) {
          return { name, codeSha256, codeSize, created: false, retries: retried.count };
        }
        await this.send(() => this.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ...code })), retried);
        await waitUntilFunctionUpdatedV2(
          { client: this.lambda, maxWaitTime: this.options.activeWaitSeconds ?? 120 },
          { FunctionName: name },
        );
        created = false;
      }
      // Pending until Lambda has provisioned it: ready() waits for the batch's functions together.
      return { name, codeSha256, codeSize, created, retries: retried.count };
    } finally {
      if (staged) {
        await this.s3.send(new DeleteObjectCommand({ Bucket: stagingBucket, Key: staged })).catch(() => undefined);
      }
    }
  }

  async ready(names: readonly string[]): Promise<void> {
    const maxWaitTime = this.options.activeWaitSeconds ?? CREATE_FUNCTION_BUDGET.activeSeconds;
    await Promise.all(
      names.map(async (name) => {
        try {
          await waitUntilFunctionActiveV2({ client: this.lambda, maxWaitTime, minDelay: 1, maxDelay: 5 }, { FunctionName: name });
        } catch (error) {
          if (named(error, 'TimeoutError') || /exceeded max wait time|waiter/i.test(String((error as Error).message)))
            throw new ResourceConflictException(`${name} is still not Active after ${maxWaitTime} s (Lambda is provisioning it)`);
          throw error;
        }
      }),
    );
  }

  async describe(name: string): Promise<PackageLocation | undefined> {
    const fetchedAt = this.now();
    try {
      const out = await this.send(() => this.lambda.send(new GetFunctionCommand({ FunctionName: name })));
      const url = out.Code?.Location;
      if (!url || !out.Configuration?.CodeSha256) return undefined;
      return {
        name,
        codeSha256: out.Configuration.CodeSha256,
        codeSize: out.Configuration.CodeSize ?? 0,
        url,
        urlExpiresAt: urlExpiry(url, fetchedAt),
      };
    } catch (error) {
      if (named(error, 'ResourceNotFoundException')) return undefined;
      throw error;
    }
  }

  readRange(url: string, start: number, end: number): Promise<Buffer> {
    return readRange(url, start, end);
  }

  streamRange(url: string, start: number, end: number): Promise<Readable | 'refused'> {
    return streamRange(url, start, end);
  }

  async delete(name: string): Promise<boolean> {
    try {
      await this.send(() => this.lambda.send(new DeleteFunctionCommand({ FunctionName: name })));
      return true;
    } catch (error) {
      if (named(error, 'ResourceNotFoundException')) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<PackageInfo[]> {
    const found: PackageInfo[] = [];
    for await (const page of paginateListFunctions({ client: this.lambda }, {})) {
      for (const fn of page.Functions ?? []) {
        if (fn.FunctionName?.startsWith(prefix)) {
          found.push({ name: fn.FunctionName, codeSha256: fn.CodeSha256 ?? '', codeSize: fn.CodeSize ?? 0 });
        }
      }
    }
    return found.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async quota(): Promise<AccountLimits> {
    const out = await this.send(() => this.lambda.send(new GetAccountSettingsCommand({})));
    const unreserved = out.AccountLimit?.UnreservedConcurrentExecutions;
    return {
      limitBytes: out.AccountLimit?.TotalCodeSize ?? 0,
      usedBytes: out.AccountUsage?.TotalCodeSize ?? 0,
      ...(unreserved !== undefined && { unreservedConcurrency: unreserved }),
    };
  }
}
