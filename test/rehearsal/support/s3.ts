// Emulated S3: s3rver (a maintained S3 REST emulator on npm) on 127.0.0.1, reached as
// `http://s3.localhost:<port>` with buckets addressed by host (`<bucket>.s3.localhost`), as the SDK
// does by default; `http://localhost:<port>/<bucket>/…` (path style) for URLs any player opens. It sends no CORS headers (nor does AWS's code bucket). Object-created events are
// handed to `onObjectCreated` as S3 event notification records.
import S3rver from 's3rver';

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

export interface S3Emulator {
  /** For the SDK: buckets by host name. */
  endpoint: string;
  /** For URLs handed to players, which resolve `localhost` but not names under it. */
  pathStyleEndpoint: string;
  port: number;
  close(): Promise<void>;
}

export async function startS3(options: {
  directory: string;
  buckets: string[];
  credentials: { accessKeyId: string; secretAccessKey: string }[];
  /** The buckets whose notification configuration sends object-created events (the input bucket). */
  notifying?: string[];
  onObjectCreated?: (event: { Records: unknown[] }) => void;
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
  const { port } = await server.run();
  if (options.onObjectCreated) {
    server.on('event', (event: { Records: S3Record[] }) => {
      const records = event.Records.filter(
        (r) => r.eventName.startsWith('ObjectCreated:') && options.notifying?.includes(r.s3.bucket.name),
      ).map(asDelivered);
      if (records.length > 0) options.onObjectCreated!({ Records: records });
    });
  }
  return { endpoint: `http://s3.localhost:${port}`, pathStyleEndpoint: `http://localhost:${port}`, port, close: () => server.close() };
}
