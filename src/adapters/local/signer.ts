// Signed, expiring package URLs for the local code store, checked by the local server the way
// S3 checks a presigned URL: any change to the name or the expiry breaks the signature.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Bytes of the signing secret; a key file of any other length (a write cut short) is not used. */
export const KEY_BYTES = 32;

/** The key in the file, or undefined when there is none or it is not a whole key. */
function readKey(path: string): Buffer | undefined {
  try {
    const key = readFileSync(path);
    return key.length === KEY_BYTES ? key : undefined;
  } catch {
    return undefined;
  }
}

export class UrlSigner {
  constructor(private readonly secret: Buffer) {
    // An empty key would sign URLs anyone can forge.
    if (secret.length !== KEY_BYTES) throw new Error(`a URL signing key must be ${KEY_BYTES} bytes, not ${secret.length}`);
  }

  /**
   * The secret lives in the home folder (mode 600) so `serve` accepts what `convert` signed. It is
   * written whole or not at all (a temporary file, then a link or rename), and a file that does not
   * hold a whole key (a first run on a full disk) is replaced by a new one.
   */
  static fromFile(path: string): UrlSigner {
    const existing = readKey(path);
    if (existing) return new UrlSigner(existing);
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(tmp, randomBytes(KEY_BYTES), { mode: 0o600 });
      try {
        linkSync(tmp, path); // only where there is no file: two first runs agree on one key
      } catch {
        // A file is there: another process's whole key (use it), or a broken one (replace it).
        if (!readKey(path)) renameSync(tmp, path);
      }
    } finally {
      rmSync(tmp, { force: true });
    }
    // What is on disk now is what every process uses.
    const key = readKey(path);
    if (!key) throw new Error(`cannot write a URL signing key to ${path}`);
    return new UrlSigner(key);
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
