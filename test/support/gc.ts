// What the gc tests share: videos registered with their functions and playlists, and what a
// registered route points at that is missing (what gc must never make).
import type { RouteRecord } from '../../src/core/model';
import { keys, packageFunctionName, revisionFor, videoIdFor } from '../../src/core/naming';
import type { Ports } from '../../src/ports';
import { listRoutes } from '../../src/registry/routes';
import { bufferSource } from './memory';

export const PREFIX = 'lhls-';

export function routeOf(videoId: string, revision: string, packages: string[]): RouteRecord {
  return {
    videoId,
    revision,
    sourceKey: `clips/${videoId}.mp4`,
    kind: 'video',
    playlistKey: keys.playlist(videoId, revision),
    durationSeconds: 10,
    segmentCount: packages.length,
    packages,
    registeredAt: new Date().toISOString(),
  };
}

/** A video registered at one revision, with its functions and playlist. */
export async function registered(ports: Pick<Ports, 'objects' | 'code'>, n: number, revision = revisionFor(`v${n}`, {})) {
  const videoId = videoIdFor(`clips/video-${n}.mp4`);
  const packages = [0, 1].map((p) => packageFunctionName(PREFIX, videoId, revision, p));
  for (const name of packages) await ports.code.createPackage(name, bufferSource(Buffer.from(name)));
  await ports.objects.put('output', keys.playlist(videoId, revision), '#EXTM3U\n');
  return { videoId, revision, packages };
}

/** Every function and playlist each registered route points at, that is missing. */
export async function lost(ports: Pick<Ports, 'objects' | 'code'>): Promise<string[]> {
  const missing: string[] = [];
  const present = new Set((await ports.code.list(PREFIX)).map((f) => f.name));
  for (const route of (await listRoutes(ports.objects)).routes) {
    for (const name of route.packages) if (!present.has(name)) missing.push(`${route.videoId}: function ${name}`);
    if (!(await ports.objects.head('output', route.playlistKey))) missing.push(`${route.videoId}: ${route.playlistKey}`);
  }
  return missing;
}
