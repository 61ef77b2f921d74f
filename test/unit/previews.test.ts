import { displaySize, posterCandidates, renderStoryboardVtt, storyboardPlan, storyboardTiles, vttTime } from '../../src/core/previews';
import { parseRoute } from '../../src/core/documents';
import { pictureTarget } from '../../src/playback/routes';
import { PLAYER_SCRIPT } from '../../src/web/player';

const video = { codec: 'h264', width: 1920, height: 1080 };

describe('the storyboard', () => {
  it('has at most 100 tiles, a tile every second at least, in rows of 10', () => {
    expect(storyboardPlan(20, video)).toEqual({ intervalSeconds: 1, tileWidth: 160, tileHeight: 90, columns: 10, rows: 3 });
    // Two hours: a tile every 72 s, 100 of them.
    expect(storyboardPlan(7200, video)).toMatchObject({ intervalSeconds: 72, columns: 10, rows: 10 });
    expect(storyboardPlan(3, video)).toMatchObject({ columns: 4, rows: 1 });
  });

  it('turns a rotated picture upright, in even pixels', () => {
    expect(displaySize({ ...video, rotation: 90 }, 160)).toEqual({ width: 90, height: 160 });
    expect(displaySize({ codec: 'h264', width: 1440, height: 1080 }, 160)).toEqual({ width: 160, height: 120 });
    // Never larger than the source.
    expect(displaySize({ codec: 'h264', width: 640, height: 360 }, 1280)).toEqual({ width: 640, height: 360 });
  });

  it('gives every moment a cue: the first from 0, each to the next tile, the last to the end', () => {
    const plan = storyboardPlan(9.5, video);
    const tiles = storyboardTiles([0.04, 2, 4, 6, 8], 9.5, plan);
    expect(tiles.map((t) => [t.start, t.end])).toEqual([
      [0, 2],
      [2, 4],
      [4, 6],
      [6, 8],
      [8, 9.5],
    ]);
    expect(tiles[1]).toMatchObject({ x: 160, y: 0 });
    const text = renderStoryboardVtt(tiles, plan, 'storyboard.jpg');
    expect(text.split('\n').slice(0, 4)).toEqual(['WEBVTT', '', '00:00:00.000 --> 00:00:02.000', 'storyboard.jpg#xywh=0,0,160,90']);
    expect(text.endsWith('00:00:08.000 --> 00:00:09.500\nstoryboard.jpg#xywh=640,0,160,90\n')).toBe(true);
  });

  it('writes WebVTT times as hours, minutes, seconds and milliseconds', () => {
    expect(vttTime(3723.4567)).toBe('01:02:03.457');
    expect(vttTime(-1)).toBe('00:00:00.000');
  });

  it('is read back by the page script as the cues it wrote', () => {
    const window: Record<string, unknown> = {};
    new Function('window', 'navigator', PLAYER_SCRIPT)(window, {});
    const player = window.LambdaHlsPlayer as { parseStoryboard: (text: string, base: string) => unknown[] };
    const plan = storyboardPlan(4, video);
    const text = renderStoryboardVtt(storyboardTiles([0, 2], 4, plan), plan, 'storyboard.jpg');
    expect(player.parseStoryboard(text, 'http://h/v/a-1/abcd1234/storyboard.vtt')).toEqual([
      { start: 0, end: 2, url: 'http://h/v/a-1/abcd1234/storyboard.jpg', x: 0, y: 0, w: 160, h: 90 },
      { start: 2, end: 4, url: 'http://h/v/a-1/abcd1234/storyboard.jpg', x: 160, y: 0, w: 160, h: 90 },
    ]);
  });
});

it('looks for a poster a tenth, three tenths and half of the way in', () => {
  expect(posterCandidates(60)).toEqual([6, 18, 30]);
});

describe('the pictures a route answers', () => {
  it('are the served poster and a revision storyboard, nothing dotted or encoded', () => {
    expect(pictureTarget('/v/clip-1a2b3c/poster.jpg')).toEqual({ videoId: 'clip-1a2b3c', picture: 'poster' });
    expect(pictureTarget('/v/clip-1a2b3c/abcd1234/storyboard.vtt')).toEqual({
      videoId: 'clip-1a2b3c',
      picture: 'storyboard',
      revision: 'abcd1234',
    });
    expect(pictureTarget('/v/clip-1a2b3c/abcd1234/storyboard.jpg')).toMatchObject({ picture: 'storyboardImage' });
    for (const path of [
      '/v/clip-1a2b3c/abcd1234/poster.jpg',
      '/v/clip-1a2b3c/../poster.jpg',
      '/v/clip-1a2b3c/%70oster.jpg',
      '/v/clip-1a2b3c/storyboard.vtt',
    ])
      expect([path, pictureTarget(path)]).toEqual([path, undefined]);
  });

  it('are read from a route record only under its own revisions', () => {
    const record = {
      videoId: 'clip-1a2b3c',
      revision: 'abcd1234',
      sourceKey: 'clip.mp4',
      kind: 'video',
      playlistKey: 'v/clip-1a2b3c/abcd1234/index.m3u8',
      durationSeconds: 1,
      segmentCount: 1,
      packages: ['f'],
      registeredAt: '2026-01-01T00:00:00Z',
    };
    expect(parseRoute({ ...record, pictures: { posterKey: 'v/clip-1a2b3c/abcd1234/poster.jpg' } }, 'route').pictures).toEqual({
      posterKey: 'v/clip-1a2b3c/abcd1234/poster.jpg',
    });
    expect(() => parseRoute({ ...record, pictures: { posterKey: 'routes/other.json' } }, 'route')).toThrow(/not a revision's picture key/);
  });
});
