// `lambda-hls serve [--port N] [--host H]`: playlists, 302s, signed package URLs and the player page.
import type { LocalBackend } from '../../src/composition/backends/local';
import { listRoutes, unreadableLine } from '../../src/registry/routes';
import { startServer, type RunningServer } from '../server';
import { EXIT_OK, EXIT_USAGE, plural, say } from './output';

export async function runServe(backend: LocalBackend, port: number, host: string): Promise<number> {
  let server: RunningServer;
  try {
    server = await startServer({ backend, host, port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      say(`lambda-hls: port ${port} is in use; pick another with --port`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const { routes, unreadable } = await listRoutes(backend.objects);
  say(`lambda-hls: serving ${plural(routes.length, 'video')} at ${server.url}/`);
  for (const r of routes) say(`  ${server.url}/v/${r.videoId}/index.m3u8  ${r.sourceKey}`);
  const skipped = unreadableLine(unreadable);
  if (skipped) say(`  not serving ${skipped}`);
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') say(`  note: listening on ${host}, so other machines can reach it`);
  say('  press Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  return EXIT_OK;
}
