// Signed, expiring package URLs for the local code store, checked by the local server the way
// S3 checks a presigned URL: any change to the name or the expiry breaks the signature.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class UrlSigner {
  constructor(private readonly secret: Buffer) {}

  /** The secret lives in the home folder (mode 600) so `serve` accepts what `convert` signed. */
  static fromFile(path: string): UrlSigner {
    try {
      return new UrlSigner(readFileSync(path));
    } catch {
      mkdirSync(dirname(path), { recursive: true });
      const secret = randomBytes(32);
      try {
        writeFileSync(path, secret, { mode: 0o600, flag: 'wx' });
        return new UrlSigner(secret);
      } catch {
        return new UrlSigner(readFileSync(path)); // another process wrote it first
      }
    }
  }

  private mac(name: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${name}\n${expires}`).digest('hex');
  }

  /** Query string for a URL to `name` valid until `expires` (epoch seconds). */
  sign(name: string, expires: number): string {
    return `expires=${expires}&signature=${this.mac(name, expires)}`;
  }

  /** 'ok', or why the URL is refused. */
  verify(name: string, query: URLSearchParams, nowMs: number): 'ok' | 'expired' | 'bad-signature' {
    const expires = Number(query.get('expires'));
    const signature = query.get('signature') ?? '';
    if (!Number.isInteger(expires) || !/^[0-9a-f]{64}$/.test(signature)) return 'bad-signature';
    const expected = Buffer.from(this.mac(name, expires), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'bad-signature';
    return expires * 1000 > nowMs ? 'ok' : 'expired';
  }
}
