import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import fc from 'fast-check';
import { InvalidRequest } from '../../src/core/errors';
import { LocalObjectStore } from '../../src/adapters/local/object-store';
import { keyOfPath, pathOfKey, TEMP_PREFIX } from '../../src/adapters/local/paths';
import { tempDir } from '../support/fixtures';
import { KEY_BYTES, UrlSigner } from '../../src/adapters/local/signer';
import { parseRange } from '../../src/core/byte-range';

describe('signed package URLs', () => {
  const signer = new UrlSigner(Buffer.alloc(32, 1));
  const expires = 2_000_000_000;
  const query = (name: string, q: string) => [name, new URLSearchParams(q)] as const;

  it('accept what they signed until it expires', () => {
    const [name, q] = query('fn-1', signer.sign('fn-1', expires));
    expect(signer.verify(name, q, expires * 1000 - 1)).toBe('ok');
    expect(signer.verify(name, q, expires * 1000)).toBe('expired');
  });
  it('reject another function name, a moved expiry, or a changed signature', () => {
    const good = signer.sign('fn-1', expires);
    expect(signer.verify('fn-2', new URLSearchParams(good), 0)).toBe('bad-signature');
    expect(signer.verify('fn-1', new URLSearchParams(good.replace(String(expires), String(expires + 1))), 0)).toBe('bad-signature');
    const flipped = good.replace(/signature=(.)/, (_, c: string) => `signature=${c === 'a' ? 'b' : 'a'}`);
    expect(signer.verify('fn-1', new URLSearchParams(flipped), 0)).toBe('bad-signature');
    expect(signer.verify('fn-1', new URLSearchParams('expires=1'), 0)).toBe('bad-signature');
  });
  it('reject a URL signed with another secret', () => {
    const other = new UrlSigner(Buffer.alloc(32, 2));
    expect(signer.verify('fn-1', new URLSearchParams(other.sign('fn-1', expires)), 0)).toBe('bad-signature');
  });
});

describe('the signing key file', () => {
  it('is made whole, mode 600, on first use, and the same key is read back by the next process', () => {
    const path = join(tempDir('signing-key'), 'home', 'signing-key');
    const first = UrlSigner.fromFile(path);
    expect(readFileSync(path)).toHaveLength(KEY_BYTES);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = UrlSigner.fromFile(path);
    expect(again.verify('fn-1', new URLSearchParams(first.sign('fn-1', 2_000_000_000)), 0)).toBe('ok');
    expect(readdirSync(dirname(path))).toEqual(['signing-key']); // no temporary left
  });

  it.each([
    ['empty (a first run on a full disk)', Buffer.alloc(0)],
    ['short', Buffer.alloc(5, 7)],
  ])('is replaced when %s, and URLs signed with the broken key are refused', (_, broken) => {
    const path = join(tempDir('signing-key'), 'signing-key');
    writeFileSync(path, broken);
    const signer = UrlSigner.fromFile(path);
    expect(readFileSync(path)).toHaveLength(KEY_BYTES);
    const forged = `expires=2000000000&signature=${createHmac('sha256', broken).update('fn-1\n2000000000').digest('hex')}`;
    expect(signer.verify('fn-1', new URLSearchParams(forged), 0)).toBe('bad-signature');
    expect(() => new UrlSigner(broken)).toThrow(`a URL signing key must be 32 bytes, not ${broken.length}`);
  });
});

describe('Range header', () => {
  it.each([
    ['bytes=0-29', { start: 0, end: 29 }],
    ['bytes=38-', { start: 38, end: 99 }],
    ['bytes=-10', { start: 90, end: 99 }],
    ['bytes=90-500', { start: 90, end: 99 }],
  ])('%s of 100 bytes', (header, expected) => {
    expect(parseRange(header, 100)).toEqual(expected);
  });
  it('is unsatisfiable past the end', () => {
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=200-300', 100)).toBe('unsatisfiable');
  });
  it('is ignored when absent or not understood, as S3 ignores it', () => {
    expect(parseRange(undefined, 100)).toBeUndefined();
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(parseRange('items=1-2', 100)).toBeUndefined();
  });
  it('is ignored when its last byte is before its first (invalid, RFC 9110 §14.1.1), not refused', () => {
    expect(parseRange('bytes=5-3', 100)).toBeUndefined();
    expect(parseRange('bytes=150-3', 100)).toBeUndefined();
  });
});

describe('the local home', () => {
  it('is made private (700), and a folder an earlier version left 755 is tightened, the home the user chose is not', async () => {
    const { chmodSync, mkdirSync, mkdtempSync, statSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { privateFolder } = await import('../../src/adapters/local/paths');
    const chosen = mkdtempSync(join(tmpdir(), 'home-'));
    try {
      chmodSync(chosen, 0o755);
      const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
      expect(mode(privateFolder(join(chosen, 'new', 'buckets')))).toBe('700');
      expect(mode(join(chosen, 'new'))).toBe('700');
      mkdirSync(join(chosen, 'functions'), { mode: 0o755 });
      chmodSync(join(chosen, 'functions'), 0o755);
      expect(mode(privateFolder(join(chosen, 'functions')))).toBe('700');
      expect(mode(chosen)).toBe('755');
    } finally {
      rmSync(chosen, { recursive: true, force: true });
    }
  });
});

describe('local code store after a create cut off half-way', () => {
  it('lists the half-made function so delete and gc can remove it, but never describes it', async () => {
    const { mkdirSync, writeFileSync, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { freshBackend, removeDir } = await import('../support/fixtures');
    const ports = freshBackend();
    const dir = join(ports.settings.home, 'functions', 'lhls-talk-123456-0a1b2c3d-4');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'code.zip'), Buffer.alloc(100));
    writeFileSync(join(dir, 'function.json.5e6f'), '{"na'); // killed while writing the description
    expect(await ports.code.list('lhls-talk-')).toEqual([{ name: 'lhls-talk-123456-0a1b2c3d-4', codeSha256: '', codeSize: 104 }]);
    expect(await ports.code.describe('lhls-talk-123456-0a1b2c3d-4')).toBeUndefined();
    expect(await ports.code.delete('lhls-talk-123456-0a1b2c3d-4')).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(await ports.code.delete('lhls-talk-123456-0a1b2c3d-4')).toBe(false);
    removeDir(ports.settings.home);
  });
});

describe('the local object store holds any S3 key without leaving its bucket folder', () => {
  const part = fc.stringMatching(/^[a-z.%\\ +éü日-]{1,12}$/);
  const key = fc.array(part, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));

  it('maps every key to a path inside the bucket and back to the same key', () => {
    fc.assert(
      fc.property(key, (k) => {
        const parts = pathOfKey(k);
        const root = resolve('/bucket');
        const full = resolve(root, ...parts);
        expect(full.startsWith(`${root}${sep}`)).toBe(true);
        expect(parts.every((p) => p !== '.' && p !== '..' && !p.includes('/') && !p.includes('\\') && !p.startsWith(TEMP_PREFIX))).toBe(
          true,
        );
        expect(keyOfPath(parts)).toBe(k);
      }),
      { numRuns: 500 },
    );
  });

  it.each(['../secret.mp4', '..\\..\\win.mp4', 'a/../../b', '.', '..', '%2E%2E', '100% real.mp4'])(
    '%s stays inside and round-trips',
    (k) => {
      const parts = pathOfKey(k);
      expect(parts.some((p) => p === '..' || p === '.')).toBe(false);
      expect(keyOfPath(parts)).toBe(k);
    },
  );

  it.each(['', '/abs.mp4', 'a//b', 'nul\0.mp4'])('refuses %j with InvalidRequest', (k) => {
    expect(() => pathOfKey(k)).toThrow(InvalidRequest);
  });

  it('finds the temporary files of writers that are gone, not of one still writing, and removes only those', async () => {
    const root = tempDir('objects');
    const store = new LocalObjectStore(root);
    await store.put('work', 'v/r/packages/f-0', '');
    const dir = join(root, 'work', 'v', 'r', 'packages');
    writeFileSync(join(dir, `%tmp-${(2 ** 22 + 12345).toString(36)}-00aa11bb`), 'half'); // a pid above Linux's maximum: gone
    writeFileSync(join(dir, `%tmp-${process.pid.toString(36)}-22cc33dd`), 'half'); // this process: still writing
    writeFileSync(join(dir, '%tmp-0a1b2c3d4e5f'), 'half'); // an older writer's name, without a pid
    const abandoned = await store.abandonedTemporaries();
    expect(abandoned).toEqual(
      [`work/v/r/packages/%tmp-0a1b2c3d4e5f`, `work/v/r/packages/%tmp-${(2 ** 22 + 12345).toString(36)}-00aa11bb`].sort(),
    );
    for (const path of abandoned) await store.removeTemporary(path);
    expect(await store.abandonedTemporaries()).toEqual([]);
    expect((await store.list('work', '')).map((o) => o.key)).toEqual(['v/r/packages/f-0']);
    await expect(store.removeTemporary('work/v/r/packages/f-0')).rejects.toMatchObject({ name: 'InvalidRequest' });
  });

  it("reads a link in the input bucket (the user's own file), and refuses one in any other bucket, or a linked folder", async () => {
    const { symlinkSync, mkdirSync } = await import('node:fs');
    const root = tempDir('objects');
    const outside = tempDir('outside');
    writeFileSync(join(outside, 'private.txt'), 'private');
    const store = new LocalObjectStore(root);
    await store.linkFile('input', 'a/clip.mp4', join(outside, 'private.txt'));
    expect((await store.get('input', 'a/clip.mp4')).toString()).toBe('private');
    mkdirSync(join(root, 'output', 'v', 'x'), { recursive: true });
    symlinkSync(join(outside, 'private.txt'), join(root, 'output', 'v', 'x', 'index.m3u8'));
    symlinkSync(outside, join(root, 'output', 'v', 'y'));
    for (const key of ['v/x/index.m3u8', 'v/y/private.txt']) {
      await expect(store.get('output', key)).rejects.toMatchObject({
        name: 'InvalidRequest',
        message: expect.stringContaining('a link out of'),
      });
      await expect(store.read('output', key)).rejects.toMatchObject({ name: 'InvalidRequest' });
    }
    expect(await store.head('output', 'v/x/index.m3u8')).toBeUndefined();
    await expect(store.get('output', 'v/z/index.m3u8')).rejects.toMatchObject({ name: 'InputNotFound' });
  });

  it('stores, lists and deletes such keys, and never lists a temporary file', async () => {
    const store = new LocalObjectStore(tempDir('objects'));
    const keys = ['../up.mp4', 'v/..\\x.ts', 'v/100%.ts', 'v/%2E%2E'];
    for (const k of keys) await store.put('work', k, k);
    expect((await store.list('work', '')).map((o) => o.key)).toEqual([...keys].sort());
    expect((await store.list('work', 'v/')).map((o) => o.key)).toEqual(['v/%2E%2E', 'v/..\\x.ts', 'v/100%.ts'].sort());
    for (const k of keys) expect((await store.get('work', k)).toString()).toBe(k);
    for (const k of keys) await store.delete('work', k);
    expect(await store.list('work', '')).toEqual([]);
  });
});
