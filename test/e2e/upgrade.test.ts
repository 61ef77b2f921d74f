// Conversions made before the rendition table keep playing: a home written by the CLI of the
// commit before it (test/fixtures/before-renditions: how it was made is in its README) is served,
// listed, read in history and deleted by this one, next to a conversion of today's.
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCli, cliIn, serveHome } from '../support/cli';
import { leftovers, makeVideo, removeDir, tempDir } from '../support/fixtures';
import { framesOf, PLAYER } from '../support/player';

const FIXTURE = join(__dirname, '..', 'fixtures', 'before-renditions');
/** What the fixture holds: one video, served at 360p (revision 38bdfaa3), its copy (755555ac) retired. */
const OLD = { videoId: 'clip-361e2c', served: '38bdfaa3', retired: '755555ac' };

let home: string;
let dir: string;

beforeAll(() => {
  expect(buildCli()).toBe(true);
  home = tempDir('upgrade-home');
  dir = tempDir('upgrade-media');
  cpSync(join(FIXTURE, 'home'), home, { recursive: true });
});

afterAll(() => {
  removeDir(home);
  removeDir(dir);
});

describe('a home written before the rendition table', () => {
  it('lists, serves and plays its video, every frame through both routes, and reads its history', async () => {
    const list = cliIn(home, ['list', '--json']);
    expect(list.code).toBe(0);
    expect(list.stderr).not.toContain('unreadable');
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ videoId: OLD.videoId, revision: OLD.served })]);
    const record = JSON.parse(readFileSync(join(home, 'buckets', 'output', 'routes', `${OLD.videoId}.json`), 'utf8')) as object;
    expect(record).not.toHaveProperty('renditions');

    const sourceFrames = await framesOf(PLAYER, join(FIXTURE, 'clip.mp4'));
    expect(sourceFrames).toBe(25);
    const { baseUrl, stop } = await serveHome(home);
    try {
      for (const path of [`/v/${OLD.videoId}/index.m3u8`, `/proxy/v/${OLD.videoId}/index.m3u8`]) {
        expect([path, await framesOf(PLAYER, `${baseUrl}${path}`)]).toEqual([path, sourceFrames]);
      }
      expect((await fetch(`${baseUrl}/watch/${OLD.videoId}`)).status).toBe(200);
    } finally {
      await stop();
    }

    const history = cliIn(home, ['history', OLD.videoId, '--json']);
    expect(history.code).toBe(0);
    expect(JSON.parse(history.stdout)).toMatchObject({ status: 'SUCCEEDED', executionName: `${OLD.videoId}-${OLD.served}` });
  });

  it("converts beside it with today's layout (its record names its rendition), both play, and deleting the old one leaves nothing of it", async () => {
    const clip = makeVideo(join(dir, 'today.mp4'), { seconds: 2, size: '160x90' });
    const converted = cliIn(home, ['convert', clip, '--profile', '360p', '--segment-seconds', '1', '--json']);
    expect(converted.code).toBe(0);
    const { videoId } = JSON.parse(converted.stdout) as { videoId: string };
    const record = JSON.parse(readFileSync(join(home, 'buckets', 'output', 'routes', `${videoId}.json`), 'utf8')) as {
      playlistKey: string;
      renditions: unknown;
    };
    expect(record.renditions).toEqual([{ rendition: '360p', playlistKey: record.playlistKey }]);

    const { baseUrl, stop } = await serveHome(home);
    try {
      expect(await framesOf(PLAYER, `${baseUrl}/v/${videoId}/index.m3u8`)).toBe(await framesOf(PLAYER, clip));
      expect(await framesOf(PLAYER, `${baseUrl}/v/${OLD.videoId}/index.m3u8`)).toBe(25);
    } finally {
      await stop();
    }

    const deleted = cliIn(home, ['delete', OLD.videoId]);
    expect(deleted.code).toBe(0);
    const left = leftovers(home);
    expect(left.filter((f) => f.includes(OLD.videoId))).toEqual([]);
    expect(readdirSync(join(home, 'functions')).filter((name) => name.includes(OLD.videoId))).toEqual([]);
    const gc = JSON.parse(cliIn(home, ['gc', '--json']).stdout) as { functions: string[]; objects: string[] };
    expect(gc).toMatchObject({ functions: [], objects: [] });
    expect((JSON.parse(cliIn(home, ['list', '--json']).stdout) as { videoId: string }[]).map((v) => v.videoId)).toEqual([videoId]);
  });
});
