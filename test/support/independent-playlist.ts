// Every playlist the pipeline writes, read by a parser we did not write (videojs' m3u8-parser)
// and held to RFC 8216: our own checker cannot vouch for our own writer.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'm3u8-parser';

/** Problems found, none when the playlist is sound; `packageBytes(uri)` is the size of the package a URI names. */
export function independentPlaylistProblems(text: string, packageBytes: (uri: string) => number | undefined): string[] {
  const problems: string[] = [];
  const parser = new Parser();
  parser.on('warn', (w) => problems.push(`parser: ${w.message}`));
  parser.push(text);
  parser.end();
  const m = parser.manifest;
  if (!text.startsWith('#EXTM3U\n')) problems.push('does not start with #EXTM3U (§4.3.1.1)');
  if (!m.version || m.version < 4) problems.push(`EXT-X-VERSION ${m.version} is below 4, which EXT-X-BYTERANGE needs (§7)`);
  if (!Number.isInteger(m.targetDuration)) problems.push('EXT-X-TARGETDURATION is missing or not an integer (§4.3.3.1)');
  if (m.playlistType !== 'VOD') problems.push(`EXT-X-PLAYLIST-TYPE is ${m.playlistType}, not VOD`);
  if (!m.endList) problems.push('no EXT-X-ENDLIST (§4.3.3.4)');
  if (m.segments.length === 0) problems.push('no segments');
  const byterangeLines = text.split('\n').filter((l) => l.startsWith('#EXT-X-BYTERANGE:'));
  if (byterangeLines.length !== m.segments.length) problems.push('not every segment has an EXT-X-BYTERANGE');
  if (byterangeLines.some((l) => !l.includes('@'))) problems.push('an EXT-X-BYTERANGE without @offset');
  const lastEnd = new Map<string, number>();
  m.segments.forEach((s, i) => {
    if (Math.round(s.duration) > (m.targetDuration ?? 0))
      problems.push(`segment ${i}: EXTINF ${s.duration} rounds above the target duration (§4.3.3.1)`);
    if (!(s.duration > 0)) problems.push(`segment ${i}: EXTINF ${s.duration} is not positive`);
    if (/^[a-z]+:|^\//i.test(s.uri)) problems.push(`segment ${i}: URI ${s.uri} is not relative`);
    if (!s.uri.endsWith('.ts')) problems.push(`segment ${i}: URI ${s.uri} has no media extension`);
    const range = s.byterange;
    if (!range) return;
    const size = packageBytes(s.uri);
    if (size === undefined) problems.push(`segment ${i}: no package behind ${s.uri}`);
    else if (range.offset + range.length > size)
      problems.push(`segment ${i}: bytes ${range.offset}+${range.length} run past ${s.uri}'s ${size} bytes`);
    if (range.offset < (lastEnd.get(s.uri) ?? 0)) problems.push(`segment ${i}: overlaps the previous range in ${s.uri}`);
    lastEnd.set(s.uri, range.offset + range.length);
  });
  return problems;
}

/**
 * The function a segment URI of a route's playlist names: `<revision>/<n>.ts`, of the route's own
 * revision only; in a ladder's rung playlist (which sits in the revision's folder) `<n>.ts`.
 */
export function packageOfUri(
  route: { revision: string; packages: string[]; renditions?: { bandwidth?: number }[] },
  uri: string,
): string | undefined {
  const match = /^(?:([a-z0-9]{4,16})\/)?(0|[1-9]\d*)\.ts$/.exec(uri);
  if (!match) return undefined;
  if (match[1] === undefined ? isLadder(route) : match[1] === route.revision) return route.packages[Number(match[2])];
  return undefined;
}

function isLadder(route: { renditions?: { bandwidth?: number }[] }): boolean {
  return (route.renditions ?? []).some((r) => r.bandwidth !== undefined);
}

interface RouteOnDisk {
  videoId: string;
  revision: string;
  playlistKey: string;
  packages: string[];
  renditions?: { rendition: string; playlistKey: string; bandwidth?: number }[];
}

/**
 * The media playlist a player that stays on one rendition plays: the route's own playlist, or with
 * a ladder (a multivariant playlist there) its top rung's — the source's size, as a single rendition
 * was.
 */
export function mediaPlaylistKey(route: RouteOnDisk): string {
  return isLadder(route) ? route.renditions![0]!.playlistKey : route.playlistKey;
}

/** Every registered video's playlist in a LAMBDA_HLS_HOME, checked; problems by video id. */
export function checkEveryPlaylist(home: string): { checked: number; problems: Record<string, string[]> } {
  const routes = join(home, 'buckets', 'output', 'routes');
  const problems: Record<string, string[]> = {};
  let checked = 0;
  let names: string[] = [];
  try {
    names = readdirSync(routes);
  } catch {
    return { checked, problems };
  }
  for (const name of names) {
    const route = JSON.parse(readFileSync(join(routes, name), 'utf8')) as RouteOnDisk;
    const sizeOf = (uri: string) => {
      const fn = packageOfUri(route, uri);
      return fn ? statSync(join(home, 'functions', fn, 'code.zip')).size : undefined;
    };
    // Every media playlist of the route: its own, or each rung's of a ladder.
    const keys = isLadder(route) ? route.renditions!.map((r) => r.playlistKey) : [route.playlistKey];
    const found = keys.flatMap((key) =>
      independentPlaylistProblems(readFileSync(join(home, 'buckets', 'output', ...key.split('/')), 'utf8'), sizeOf).map(
        (p) => `${key}: ${p}`,
      ),
    );
    if (found.length > 0) problems[route.videoId] = found;
    checked++;
  }
  return { checked, problems };
}

/** A registered video's route record and the text of the playlist it serves, from a LAMBDA_HLS_HOME. */
export function servedPlaylist(home: string, videoId: string) {
  const route = JSON.parse(readFileSync(join(home, 'buckets', 'output', 'routes', `${videoId}.json`), 'utf8')) as RouteOnDisk;
  return { route, text: readFileSync(join(home, 'buckets', 'output', ...mediaPlaylistKey(route).split('/')), 'utf8') };
}

/** Each segment a player reads for a registered video, in play order: its range out of its package on disk. */
export function playedSegments(home: string, videoId: string): Buffer[] {
  const { route, text } = servedPlaylist(home, videoId);
  const parser = new Parser();
  parser.push(text);
  parser.end();
  return parser.manifest.segments.map((s) => {
    const zip = readFileSync(join(home, 'functions', packageOfUri(route, s.uri)!, 'code.zip'));
    return zip.subarray(s.byterange!.offset, s.byterange!.offset + s.byterange!.length);
  });
}

/** The bytes a player reads for a registered video, in play order. */
export function playedStream(home: string, videoId: string): Buffer {
  return Buffer.concat(playedSegments(home, videoId));
}
