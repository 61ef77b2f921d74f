// SigV4, checked as S3 checks it: the canonical request rebuilt from the request as it arrived,
// signed with the caller's secret, compared with the signature given (in the query of a presigned
// URL, or the Authorization header); and the date against the clock.
// (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html, …/sig-v4-header-based-auth.html)
import { createHash, createHmac } from 'node:crypto';

/** RFC 3986 encoding, as SigV4 wants it: everything but A–Z a–z 0–9 - _ . ~ */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

export type Verdict = 'ok' | 'expired' | 'bad-signature' | 'unsigned';

/** S3 refuses a header-signed request whose X-Amz-Date is further than this from its clock. */
const MAX_SKEW_MS = 15 * 60_000;

type Headers = Record<string, string | string[] | undefined>;

/** The request's SigV4 parts, from its query (presigned URL) or its Authorization header. */
function signedParts(rawQuery: string, headers: Headers) {
  const query = new URLSearchParams(rawQuery);
  if (query.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256') {
    return {
      query,
      credential: query.get('X-Amz-Credential') ?? '',
      date: query.get('X-Amz-Date') ?? '',
      signature: query.get('X-Amz-Signature') ?? '',
      signedHeaders: (query.get('X-Amz-SignedHeaders') ?? 'host').split(';'),
      payload: query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
      expiresMs: Number(query.get('X-Amz-Expires') ?? 0) * 1000,
    };
  }
  const authorization = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$/.exec(
    String(headers.authorization ?? ''),
  );
  if (!authorization) return undefined;
  return {
    query,
    credential: authorization[1]!,
    date: String(headers['x-amz-date'] ?? ''),
    signature: authorization[3]!,
    signedHeaders: authorization[2]!.split(';'),
    payload: String(headers['x-amz-content-sha256'] ?? ''),
    expiresMs: undefined,
  };
}

/**
 * Checks a request's SigV4 signature as S3 does, whether it comes in the query (a presigned URL:
 * also its X-Amz-Date + X-Amz-Expires against the clock) or the Authorization header (also the
 * date's skew). `rawPath` and `rawQuery` as they arrived (still encoded); `secretOf` the secret of
 * an access key (undefined for an unknown one). The payload is taken as its declared hash says:
 * the body itself is not hashed here.
 */
export function verifySignature(
  method: string,
  rawPath: string,
  rawQuery: string,
  headers: Headers,
  secretOf: (accessKeyId: string) => string | undefined,
  now: number,
): Verdict {
  const parts = signedParts(rawQuery, headers);
  if (!parts) return 'unsigned';
  const { query, credential, date, signature, signedHeaders, payload } = parts;
  const [accessKeyId, ...scopeParts] = credential.split('/');
  const secret = secretOf(accessKeyId ?? '');
  if (!secret || !date || !signature) return 'bad-signature';
  const canonicalQuery = [...query.entries()]
    .filter(([key]) => key !== 'X-Amz-Signature')
    .map(([key, value]) => [uriEncode(key), uriEncode(value)])
    .sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : 1))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .map(
      (name) =>
        `${name}:${String(headers[name] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonical = [method, rawPath, canonicalQuery, canonicalHeaders, signedHeaders.join(';'), payload].join('\n');
  const scope = scopeParts.join('/');
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const [day, region, service] = scopeParts as [string, string, string];
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
  if (hmac(key, stringToSign).toString('hex') !== signature) return 'bad-signature';
  const signedAt = Date.parse(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (parts.expiresMs === undefined) return Math.abs(now - signedAt) <= MAX_SKEW_MS ? 'ok' : 'expired';
  return now <= signedAt + parts.expiresMs ? 'ok' : 'expired';
}
