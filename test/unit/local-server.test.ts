// `lambda-hls serve` under stress: a flood of idle connections, a video deleted while it plays, a
// download abandoned.
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { PROXY_PREFIX, startServer } from '../../cli/server';
import type { RouteRecord } from '../../src/core/model';
import { keys } from '../../src/core/naming';
import { renderPlaylist } from '../../src/core/playlist';
import { freshBackend, removeDir } from '../support/fixtures';
import { bufferSource } from '../support/memory';

describe('serve with more connections open than it keeps', () => {
  it('closes the longest-idle ones, and a request on a new connection is answered at once', async () => {
    const backend = freshBackend();
    const server = await startServer({ backend, maxConnections: 50 });
    const sockets: Socket[] = [];
    try {
      let closedByServer = 0;
      for (let i = 0; i < 300; i += 1) {
        const socket = connect(server.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.once('close', () => {
          closedByServer += 1;
        });
        await new Promise<void>((resolve) => socket.once('connect', resolve));
        sockets.push(socket);
      }
      // A connection that has asked for something keeps its request answered.
      const started = performance.now();
      const answer = await fetch(`${server.url}/api/stats`);
      expect([answer.status, performance.now() - started < 2000]).toEqual([200, true]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      // 300 idle + the fetch's own connection against 50: the 251 idle the longest are gone, the newest kept.
      expect(closedByServer).toBe(251);
      expect(sockets.slice(-49).every((s) => !s.destroyed && s.readyState === 'open')).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.close();
      removeDir(backend.settings.home);
    }
  });
});

describe('the delivery route while a video is deleted', () => {
  it('answers 404 once the functions are gone, though the route is still cached — never 502', async () => {
    const backend = freshBackend();
    const server = await startServer({ backend });
    try {
      const videoId = 'clip-0a1b2c';
      const revision = 'abcd1234';
      const bytes = Buffer.alloc(2 * 188, 0x47);
      await backend.code.createPackage('lhls-clip-0a1b2c-abcd1234-0', bufferSource(bytes));
      const route: RouteRecord = {
        videoId,
        revision,
        sourceKey: 'clip.mp4',
        kind: 'video',
        playlistKey: keys.playlist(videoId, revision),
        durationSeconds: 2,
        segmentCount: 1,
        packages: ['lhls-clip-0a1b2c-abcd1234-0'],
        registeredAt: new Date().toISOString(),
        addressing: 'revision',
      };
      await backend.objects.put(
        'output',
        route.playlistKey,
        renderPlaylist([{ duration: 2, uri: `${revision}/0.ts`, length: 188, offset: 188 }]),
      );
      await backend.objects.put('output', keys.route(videoId), JSON.stringify(route));
      const segment = `${server.url}${PROXY_PREFIX}/v/${videoId}/${revision}/s0.ts`;
      const played = await fetch(segment);
      expect([played.status, (await played.arrayBuffer()).byteLength]).toEqual([200, 188]);
      // delete's order: the route, then the functions; serve still holds the route for a few seconds.
      await backend.objects.delete('output', keys.route(videoId));
      await backend.code.delete('lhls-clip-0a1b2c-abcd1234-0');
      const during = await fetch(segment);
      expect([during.status, during.headers.get('cache-control'), await during.text()]).toEqual([404, 'no-store', 'not found\n']);
    } finally {
      await server.close();
      removeDir(backend.settings.home);
    }
  });
});

/** Files under `dir` this process holds open (Linux: /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return []; // closed while we looked
    }
  });
}

describe('a package download the player abandons', () => {
  it('closes the package file as soon as the player goes away (a seek, a cancelled fetch), not when the garbage collector does', async () => {
    const backend = freshBackend();
    const server = await startServer({ backend });
    try {
      const name = 'lhls-clip-0a1b2c-abcd1234-0';
      // Larger than the socket's buffers: the server is still reading the file when the player leaves.
      await backend.code.createPackage(name, bufferSource(Buffer.alloc(16 * 1024 * 1024, 0x47)));
      const { url } = (await backend.code.describe(name))!;
      const functions = realpathSync(join(backend.settings.home, 'functions'));
      await new Promise<void>((resolve, reject) => {
        const request = get(new URL(url, server.url), (res) => {
          res.once('data', () => {
            expect(openFilesUnder(functions)).toHaveLength(1); // being sent
            request.destroy();
            resolve();
          });
        });
        request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
      });
      const deadline = Date.now() + 2000;
      while (openFilesUnder(functions).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(openFilesUnder(functions)).toEqual([]);
    } finally {
      await server.close();
      removeDir(backend.settings.home);
    }
  });
});
