import { independentPlaylistProblems } from '../support/independent-playlist';
import { PlaylistInvalid } from '../../src/core/errors';
import { assertPlaylist, checkPlaylist, targetDurationFor, renderPlaylist } from '../../src/core/playlist';

const segments = [
  { duration: 10.08, uri: '0.ts', length: 1061824, offset: 38 },
  { duration: 9.96, uri: '1.ts', length: 1075736, offset: 38 },
  { duration: 4.5, uri: '2.ts', length: 52000, offset: 38 },
];

describe('RFC 8216 §4.3.1.1 EXTM3U', () => {
  // "The EXTM3U tag ... MUST be the first line of every Media Playlist"
  it('starts every playlist with #EXTM3U', () => {
    expect(renderPlaylist(segments).split('\n')[0]).toBe('#EXTM3U');
  });
  it('reports a playlist that does not', () => {
    const text = renderPlaylist(segments).replace('#EXTM3U\n', '');
    expect(checkPlaylist(text).problems).toContain('line 1: the first line must be #EXTM3U');
  });
});

describe('RFC 8216 §4.3.2.2 EXT-X-BYTERANGE', () => {
  // "Use of the EXT-X-BYTERANGE tag REQUIRES a compatibility version number of 4 or greater."
  it('writes EXT-X-VERSION:4 with byte ranges', () => {
    expect(renderPlaylist(segments)).toContain('#EXT-X-VERSION:4\n');
  });
  it('reports byte ranges under a lower version', () => {
    const text = renderPlaylist(segments).replace('#EXT-X-VERSION:4', '#EXT-X-VERSION:3');
    expect(checkPlaylist(text).problems.join()).toMatch(/byte ranges need 4/);
  });
  it('writes <length>@<offset> for every segment, right before its URI', () => {
    const lines = renderPlaylist(segments).split('\n');
    segments.forEach((s) => {
      const at = lines.indexOf(s.uri);
      expect(lines[at - 1]).toBe(`#EXT-X-BYTERANGE:${s.length}@${s.offset}`);
      expect(lines[at - 2]).toMatch(/^#EXTINF:[\d.]+,$/);
    });
  });
  it('reports the malformed line the prior art shipped', () => {
    const text = renderPlaylist(segments).replace('#EXT-X-BYTERANGE:1061824@38', '#EXT-X-BYTERANGE10659788:@66');
    expect(() => assertPlaylist(text)).toThrow(PlaylistInvalid);
    expect(checkPlaylist(text).problems.join()).toMatch(/malformed EXT-X-BYTERANGE/);
  });
  it('reports a byte range without an offset', () => {
    const text = renderPlaylist(segments).replace('#EXT-X-BYTERANGE:1061824@38', '#EXT-X-BYTERANGE:1061824');
    expect(checkPlaylist(text).problems.join()).toMatch(/without @offset/);
  });
});

describe('RFC 8216 §4.3.3.1 EXT-X-TARGETDURATION', () => {
  // "The EXTINF duration of each Media Segment in the Playlist file, when rounded to the nearest
  // integer, MUST be less than or equal to the target duration"
  it('is the largest rounded segment duration', () => {
    expect(targetDurationFor([10.08, 9.96, 4.5])).toBe(10);
    expect(targetDurationFor([10.5])).toBe(11);
    expect(targetDurationFor([0.2])).toBe(1);
  });
  it('holds for every written playlist', () => {
    const check = checkPlaylist(renderPlaylist([...segments, { duration: 12.6, uri: '3.ts', length: 9, offset: 38 }]));
    expect(check.targetDuration).toBe(13);
    expect(check.problems).toEqual([]);
  });
  it('reports an EXTINF that rounds above the target', () => {
    const text = renderPlaylist(segments).replace('#EXT-X-TARGETDURATION:10', '#EXT-X-TARGETDURATION:9');
    expect(checkPlaylist(text).problems.join()).toMatch(/rounds above the target duration 9/);
  });
});

describe('RFC 8216 §4.3.3.4–5 VOD and ENDLIST', () => {
  it('marks the playlist VOD and ends it with EXT-X-ENDLIST', () => {
    const text = renderPlaylist(segments);
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:VOD\n');
    expect(text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
  });
  it('reports a playlist without ENDLIST', () => {
    const text = renderPlaylist(segments).replace('#EXT-X-ENDLIST\n', '');
    expect(checkPlaylist(text).problems).toContain('missing #EXT-X-ENDLIST');
  });
});

describe('segment URIs', () => {
  it('are relative and end in .ts, as ffmpeg ≥ 6.1 requires of segment URLs', () => {
    const check = checkPlaylist(renderPlaylist(segments));
    expect(check.segments.map((s) => s.uri)).toEqual(['0.ts', '1.ts', '2.ts']);
  });
  it('reports an absolute or extension-less URI', () => {
    expect(checkPlaylist(renderPlaylist([{ ...segments[0]!, uri: '/v/x/0' }])).problems.join()).toMatch(/media extension/);
  });
  it('parses back exactly what was written', () => {
    const check = checkPlaylist(renderPlaylist(segments));
    expect(check.segments.map(({ duration, uri, length, offset }) => ({ duration, uri, length, offset }))).toEqual(segments);
  });
  it('refuses to write a playlist with no segments', () => {
    expect(() => renderPlaylist([])).toThrow(PlaylistInvalid);
  });
});

describe('the independent check (m3u8-parser) used on every playlist the e2e tests write', () => {
  const good = renderPlaylist([
    { duration: 4, uri: '0.ts', offset: 38, length: 1000 },
    { duration: 4, uri: '0.ts', offset: 1076, length: 1000 },
    { duration: 2.5, uri: '1.ts', offset: 38, length: 500 },
  ]);
  const sizes: Record<string, number> = { '0.ts': 2200, '1.ts': 700 };

  it('passes what the writer writes', () => {
    expect(independentPlaylistProblems(good, (u) => sizes[u])).toEqual([]);
  });

  it.each([
    ['no ENDLIST', good.replace('#EXT-X-ENDLIST\n', ''), /ENDLIST/],
    ['version 3', good.replace('#EXT-X-VERSION:4', '#EXT-X-VERSION:3'), /VERSION 3/],
    ['a range past its package', good.replace('1000@1076', '1200@1076'), /run past 0.ts/],
    ['overlapping ranges', good.replace('1000@1076', '1000@500'), /overlaps/],
    ['a range without offset', good.replace('500@38', '500'), /without @offset/],
    ['a duration above the target', good.replace('#EXTINF:2.500000,', '#EXTINF:9.000000,'), /rounds above/],
    ['an absolute URI', good.replace('\n1.ts', '\nhttp://x/1.ts'), /not relative/],
  ])('catches %s', (_, text, problem) => {
    expect(independentPlaylistProblems(text, (u) => sizes[u] ?? sizes[u.replace('http://x/', '')]).join('\n')).toMatch(problem);
  });
});
