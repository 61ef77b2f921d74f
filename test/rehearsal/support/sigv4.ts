// SigV4 query authentication (a presigned URL), checked as S3 checks it: the canonical request
// rebuilt from the request as it arrived, signed with the caller's secret, compared with the
// signature given; and the URL's X-Amz-Date + X-Amz-Expires against the clock.
// (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html)
import { createHash, createHmac } from 'node:crypto';

/** RFC 3986 encoding, as SigV4 wants it: everything but A–Z a–z 0–9 - _ . ~ */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

export type PresignVerdict = 'ok' | 'expired' | 'bad-signature' | 'not-presigned';

/**
 * `rawPath` and `rawQuery` as they arrived (still encoded); `headers` the request's; `secretOf` the
 * secret of an access key (undefined for an unknown one).
 */
export function verifyPresigned(
  method: string,
  rawPath: string,
  rawQuery: string,
  headers: Record<string, string | string[] | undefined>,
  secretOf: (accessKeyId: string) => string | undefined,
  now: number,
): PresignVerdict {
  const query = new URLSearchParams(rawQuery);
  const credential = query.get('X-Amz-Credential');
  const date = query.get('X-Amz-Date');
  const signature = query.get('X-Amz-Signature');
  if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || !credential || !date || !signature) return 'not-presigned';
  const [accessKeyId, ...scopeParts] = credential.split('/');
  const secret = secretOf(accessKeyId ?? '');
  if (!secret) return 'bad-signature';
  const signedHeaders = (query.get('X-Amz-SignedHeaders') ?? 'host').split(';');
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
  const payload = query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
  const canonical = [method, rawPath, canonicalQuery, canonicalHeaders, signedHeaders.join(';'), payload].join('\n');
  const scope = scopeParts.join('/');
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const [day, region, service] = scopeParts as [string, string, string];
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
  if (hmac(key, stringToSign).toString('hex') !== signature) return 'bad-signature';
  const signedAt = Date.parse(date.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  return now <= signedAt + Number(query.get('X-Amz-Expires') ?? 0) * 1000 ? 'ok' : 'expired';
}
