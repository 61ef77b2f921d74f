// `lambda-hls list [--json] [--stage S]`: the converted videos, newest first.
import { byNewest, listRoutes, routeSummary, unreadableLine } from '../../src/registry/routes';
import type { Target } from '../targets';
import type { VideoJson } from './contracts';
import { duration, EXIT_OK, printJson, renditionsOf, say } from './output';

export async function runList(target: Target, json: boolean): Promise<number> {
  const { routes, unreadable } = await listRoutes(target.stores().objects);
  routes.sort(byNewest);
  // On stderr, so `list --json` stays the array scripts parse.
  const skipped = unreadableLine(unreadable);
  if (skipped) say(`lambda-hls: ${skipped}; gc keeps what they may own`);
  if (json) {
    printJson(
      routes.map(
        (r): VideoJson => ({
          ...routeSummary(r),
          playlist: target.playlistOf(r),
          ...renditionsOf(r, (rung) => target.renditionPlaylistOf(r, rung)),
          ...target.picturesOf(r),
          ...target.linksOf?.(r.videoId),
        }),
      ),
    );
    return EXIT_OK;
  }
  if (routes.length === 0 && !skipped) {
    say(`no videos yet: convert one with lambda-hls convert <file.mp4|file.mp3>${target.flags}`);
    return EXIT_OK;
  }
  const width = Math.max(8, ...routes.map((r) => r.videoId.length));
  // A ladder's rungs from the top ("1080p,720p,480p,360p,234p"); one rendition: "-".
  const ladderOf = (r: (typeof routes)[number]) =>
    renditionsOf(r, () => '')
      .renditions?.map((x) => x.name)
      .join(',') ?? '-';
  const ladderWidth = Math.max(6, ...routes.map((r) => ladderOf(r).length));
  const lines = [`${'VIDEO'.padEnd(width)}  KIND   LENGTH  SEGMENTS  ${'LADDER'.padEnd(ladderWidth)}  NAME`];
  for (const r of routes) {
    lines.push(
      `${r.videoId.padEnd(width)}  ${r.kind.padEnd(5)}  ${duration(r.durationSeconds).padStart(6)}  ${String(r.segmentCount).padStart(8)}  ${ladderOf(r).padEnd(ladderWidth)}  ${r.sourceKey}`,
    );
  }
  if (target.linksOf) {
    // A stage's videos play from three addresses: which player gets which is in the README.
    for (const r of routes) {
      const links = target.linksOf(r.videoId);
      lines.push(
        '',
        `${r.videoId}`,
        `  share     ${links.watch}`,
        `  playlist  ${target.playlistOf(r)}`,
        `  web       ${links.proxiedPlaylist}`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT_OK;
}
