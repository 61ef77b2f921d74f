// ObjectStore on S3. Clients come from the caller (created once per cold start, with an empty
// config so region and endpoint come from the environment); tests pass mocked ones.
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { InputNotFound } from '../../core/errors';
import { asTransient, httpStatusOf, transientBody } from './transient';
import type { Bucket, ObjectInfo, ObjectStore, TaggedObject, WriteCondition } from '../../ports';

export type BucketNames = Record<Bucket, string>;

/** ffmpeg reads the input through this URL; an hour covers the longest SegmentMedia run (900 s). */
export const INPUT_URL_SECONDS = 3600;

export class S3ObjectStore implements ObjectStore {
  /**
   * `unlisted`: buckets the caller may read but not list. S3 answers a missing key there with 403
   * (it will not say what exists to one who may not list), so a 403 to a read means missing.
   */
  constructor(
    private readonly s3: S3Client,
    private readonly buckets: BucketNames,
    private readonly unlisted: readonly Bucket[] = [],
  ) {}

  private isMissing(error: unknown, bucket: Bucket): boolean {
    const name = (error as Error).name;
    if (name === 'NotFound' || name === 'NoSuchKey') return true;
    const status = httpStatusOf(error);
    return this.unlisted.includes(bucket) && (status === 403 || name === 'AccessDenied' || name === 'Forbidden');
  }

  async head(bucket: Bucket, key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      // The version names this upload as start-conversion's S3 event does: versionId, else the ETag unquoted.
      const version = out.VersionId ?? out.ETag?.replace(/"/g, '');
      return {
        key,
        bytes: out.ContentLength ?? 0,
        ...(version && { version }),
        ...(out.LastModified && { modifiedAt: out.LastModified.getTime() }),
      };
    } catch (error) {
      if (this.isMissing(error, bucket)) return undefined;
      throw error;
    }
  }

  async get(bucket: Bucket, key: string): Promise<Buffer> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      if (!out.Body) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (error) {
      if (this.isMissing(error, bucket)) throw new InputNotFound(`no object ${key} in the ${bucket} bucket`);
      throw asTransient(error); // the body can break after the response began
    }
  }

  async read(bucket: Bucket, key: string): Promise<AsyncIterable<Uint8Array>> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      // In Node the body is a Readable: chunks as they arrive from the socket (a break among them is transient).
      return out.Body ? transientBody(out.Body as AsyncIterable<Uint8Array>) : (async function* () {})();
    } catch (error) {
      if (this.isMissing(error, bucket)) throw new InputNotFound(`no object ${key} in the ${bucket} bucket`);
      throw error;
    }
  }

  async put(bucket: Bucket, key: string, body: Buffer | string, contentType?: string): Promise<void> {
    // Stated, not left to the SDK: it states none for an empty body (a claim), and then warns in the
    // function's log that the body may be a stream of unknown length.
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.buckets[bucket], Key: key, Body: body, ContentLength: length, ContentType: contentType }),
    );
  }

  async getTagged(bucket: Bucket, key: string): Promise<TaggedObject | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      const body = out.Body ? Buffer.from(await out.Body.transformToByteArray()) : Buffer.alloc(0);
      return { body, etag: out.ETag ?? '' };
    } catch (error) {
      if (this.isMissing(error, bucket)) return undefined;
      throw asTransient(error);
    }
  }

  /**
   * PutObject with If-Match (the ETag read) or If-None-Match: *. S3 answers 412 PreconditionFailed
   * when the object changed, 409 ConditionalRequestConflict when another conditional write to the
   * key is under way, and 404 NoSuchKey when If-Match names an object deleted since: each means
   * "read it again", so each is false.
   */
  async putIf(bucket: Bucket, key: string, body: Buffer | string, condition: WriteCondition, contentType?: string): Promise<boolean> {
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.buckets[bucket],
          Key: key,
          Body: body,
          ContentLength: length,
          ContentType: contentType,
          ...('etag' in condition ? { IfMatch: condition.etag } : { IfNoneMatch: '*' }),
        }),
      );
      return true;
    } catch (error) {
      const name = (error as Error).name;
      const status = httpStatusOf(error);
      if (['PreconditionFailed', 'ConditionalRequestConflict', 'NoSuchKey'].includes(name) || status === 412 || status === 409)
        return false;
      throw error;
    }
  }

  /** Streams the file (multipart above 5 MB), never holding it in memory. */
  async putFile(bucket: Bucket, key: string, path: string, contentType?: string): Promise<void> {
    await new Upload({
      client: this.s3,
      params: { Bucket: this.buckets[bucket], Key: key, Body: createReadStream(path), ContentType: contentType },
    }).done();
  }

  async moveFile(bucket: Bucket, key: string, path: string, contentType?: string): Promise<void> {
    await this.putFile(bucket, key, path, contentType);
    await rm(path, { force: true });
  }

  async list(bucket: Bucket, prefix: string): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    for await (const page of paginateListObjectsV2({ client: this.s3 }, { Bucket: this.buckets[bucket], Prefix: prefix })) {
      for (const object of page.Contents ?? []) {
        if (object.Key) found.push({ key: object.Key, bytes: object.Size ?? 0 });
      }
    }
    return found;
  }

  async delete(bucket: Bucket, key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
  }

  async readableLocation(bucket: Bucket, key: string): Promise<string> {
    if (!(await this.head(bucket, key))) throw new InputNotFound(`no object ${key} in the ${bucket} bucket`);
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.buckets[bucket], Key: key }), { expiresIn: INPUT_URL_SECONDS });
  }
}
