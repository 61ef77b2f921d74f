import fc from 'fast-check';
import { formatBytes } from '../../src/core/units';
import { NameTooLong, UnsupportedExtension } from '../../src/core/errors';
import {
  checkNamesFit,
  executionNameFor,
  extensionOf,
  isVideoFunction,
  isSupportedKey,
  isVideoId,
  localSourceKey,
  MAX_PACKAGE_INDEX,
  packageFunctionName,
  revisionFor,
  slugify,
  supportedExtension,
  videoIdFor,
  videoIdSecretCheck,
} from '../../src/core/naming';

// What a deployed stack uses: <service>-<stage>-seg-
const AWS_PREFIX = 'lambda-hls-prod-seg-';

describe('extensions', () => {
  it.each(['clip.mp4', 'CLIP.MP4', 'a.b.Mp4', 'song.mp3', 'SONG.MP3', 'dir/x.mp4'])('accepts %s', (key) => {
    expect(['.mp4', '.mp3']).toContain(supportedExtension(key));
  });
  it.each([
    'clip.avi',
    'CLIP.AVI',
    'clip',
    '.mp4',
    'clip.mp4.txt',
    'clip.mp4.avi',
    'clip.mp4.',
    'clip.mp4 ',
    'clip.m4a',
    'clip.m4v',
    'clip.mp4/',
  ])('rejects %s with UnsupportedExtension', (key) => {
    expect(() => supportedExtension(key)).toThrow(UnsupportedExtension);
  });
  it('reads the extension of the file name only', () => {
    expect(extensionOf('folder.mp4/clip')).toBe('');
  });
});

describe('video ids', () => {
  it('are a readable slug plus a short hash', () => {
    expect(videoIdFor('My holiday clip.MP4')).toMatch(/^my-holiday-clip-[0-9a-f]{6}$/);
    expect(slugify('Café del Mar (live).mp3')).toBe('cafe-del-mar-live');
    expect(slugify('日本語.mp4')).toBe('video');
  });
  it('are the same for the same key and differ for keys that share a name', () => {
    expect(videoIdFor('a/clip.mp4')).toBe(videoIdFor('a/clip.mp4'));
    expect(videoIdFor('a/clip.mp4')).not.toBe(videoIdFor('b/clip.mp4'));
  });
  it('keep every function name within 64 characters, whatever the file name', () => {
    const names = fc.oneof(
      fc.string({ maxLength: 250, unit: 'grapheme' }),
      fc.constant('x'.repeat(200)),
      fc.constant(' spaces  and\ttabs '),
    );
    fc.assert(
      fc.property(names, fc.constantFrom('.mp4', '.MP3'), (name, ext) => {
        const id = videoIdFor(`${name}${ext}`);
        expect(isVideoId(id)).toBe(true);
        const fn = packageFunctionName(AWS_PREFIX, id, 'deadbeef', MAX_PACKAGE_INDEX);
        expect(fn.length).toBeLessThanOrEqual(64);
        expect(fn).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(executionNameFor(id, 'deadbeef').length).toBeLessThanOrEqual(80);
      }),
    );
  });
  it('fit the names a longer stage makes, and mix in a secret when there is one', () => {
    const stages = fc.stringMatching(/^[a-z][a-z0-9]{0,16}$/);
    const names = fc.string({ maxLength: 120, unit: 'grapheme' });
    fc.assert(
      fc.property(stages, names, fc.constantFrom('', 'a-secret-of-16-chars-or-more'), (stage, name, secret) => {
        const functionPrefix = `lambda-hls-${stage}-seg-`;
        const id = videoIdFor(`${name}.mp4`, { secret, functionPrefix });
        expect(isVideoId(id)).toBe(true);
        expect(() => checkNamesFit(functionPrefix, id, 'deadbeef')).not.toThrow();
      }),
    );
    const plain = videoIdFor('talks/Lecture 1.MP4');
    const salted = videoIdFor('talks/Lecture 1.MP4', { secret: 'a-secret-of-16-chars-or-more' });
    expect(salted).toMatch(/^lecture-1-[0-9a-f]{12}$/);
    expect(salted).not.toBe(plain);
    expect(videoIdFor('talks/Lecture 1.MP4', { secret: 'another-secret-of-16-chars' })).not.toBe(salted);
    expect(videoIdFor('talks/Lecture 1.MP4', { secret: 'a-secret-of-16-chars-or-more' })).toBe(salted);
    // A short prefix changes nothing: ids made before prefixes counted stay as they were.
    expect(videoIdFor('talks/Lecture 1.MP4', { functionPrefix: 'lambda-hls-dev-seg-' })).toBe(plain);
    expect(videoIdSecretCheck('a-secret-of-16-chars-or-more')).toMatch(/^[0-9a-f]{16}$/);
    expect(videoIdSecretCheck('a-secret-of-16-chars-or-more')).not.toContain('secret');
  });
  it('fail with NameTooLong when the configured prefix leaves no room', () => {
    expect(() => checkNamesFit('a-very-long-service-name-production-seg-', videoIdFor(`${'x'.repeat(200)}.mp4`), 'deadbeef')).toThrow(
      NameTooLong,
    );
  });
});

describe('function ownership', () => {
  it("tells a video's functions from those of a video whose id extends it", () => {
    const mine = packageFunctionName('lhls-', 'a-123456', 'deadbeef', 3);
    const theirs = packageFunctionName('lhls-', 'a-123456-bbbbbb', '12345678', 0);
    expect(isVideoFunction('lhls-', 'a-123456', mine)).toBe(true);
    expect(theirs.startsWith('lhls-a-123456-')).toBe(true);
    expect(isVideoFunction('lhls-', 'a-123456', theirs)).toBe(false);
  });
});

describe('revisions', () => {
  it('change with the content or the options, and only then', () => {
    const base = revisionFor('sha-a', { segmentSeconds: 10, profile: 'source' });
    expect(revisionFor('sha-a', { segmentSeconds: 10, profile: 'source' })).toBe(base);
    expect(revisionFor('sha-b', { segmentSeconds: 10, profile: 'source' })).not.toBe(base);
    expect(revisionFor('sha-a', { segmentSeconds: 6, profile: 'source' })).not.toBe(base);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 bytes'],
    [812, '812 bytes'],
    [1024, '1.0 KiB'],
    [5000, '4.9 KiB'],
    [262_144_000, '250.0 MiB'],
    [10 * 1024 ** 3, '10.0 GiB'],
  ])('%d → %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});

describe('local source keys', () => {
  it('put a file under its folder: the same path the same key, another folder another key and video', () => {
    const key = localSourceKey('/home/ana/DCIM', 'IMG_0001.MP4');
    expect(key).toMatch(/^dcim-[0-9a-f]{6}\/IMG_0001\.MP4$/);
    expect(localSourceKey('/home/ana/DCIM', 'IMG_0001.MP4')).toBe(key);
    const other = localSourceKey('/media/card/DCIM', 'IMG_0001.MP4');
    expect(other).not.toBe(key);
    expect(videoIdFor(other)).not.toBe(videoIdFor(key));
    expect(videoIdFor(key)).toMatch(/^img-0001-[0-9a-f]{6}$/);
    expect(isSupportedKey(key)).toBe(true);
  });
  it('give the root folder a key too', () => {
    expect(localSourceKey('/', 'a.mp4')).toMatch(/^[0-9a-f]{6}\/a\.mp4$/);
  });
});
