// The route registry: one JSON object per video in the output bucket, naming the revision served
// and the function behind each `<n>.ts`.
import { parseRoute } from '../core/documents';
import { InputNotFound, InvalidRequest, RevisionPublished } from '../core/errors';
import { hasPublished, type RouteRecord } from '../core/model';
import { keys } from '../core/naming';
import type { ObjectStore } from '../ports';
import { readDocument } from '../read-document';

export async function readRoute(objects: ObjectStore, videoId: string): Promise<RouteRecord | undefined> {
  let route: RouteRecord;
  try {
    route = await readDocument(objects, 'output', keys.route(videoId), parseRoute);
  } catch (error) {
    if (error instanceof InputNotFound) return undefined; // one read, not head + get: this runs per request
    throw error;
  }
  // A record under another video's key would make that video's files look like nobody's.
  if (route.videoId !== videoId) throw new InvalidRequest(`output/${keys.route(videoId)} names another video (${route.videoId})`);
  return route;
}

/** A record that exists but cannot be read (not JSON, the wrong shape, another video's): named, never taken for "no video". */
export interface UnreadableRoute {
  videoId: string;
  /** `output/routes/<videoId>.json` */
  key: string;
  cause: string;
}

/** A video's record as read: the record, none (`{}`), or why it could not be read. */
export type RouteReading = { route?: RouteRecord; unreadable?: UnreadableRoute };

/**
 * Reads a record without failing on a damaged one: what the steps that only look at the previous
 * record (RegisterRoute, CleanUp, `convert`) use, so one corrupt record does not stop its video
 * from being converted again. Store failures (throttling, permissions) still throw.
 */
export async function readRouteTolerant(objects: ObjectStore, videoId: string): Promise<RouteReading> {
  try {
    const route = await readRoute(objects, videoId);
    return route ? { route } : {};
  } catch (error) {
    if (!(error instanceof InvalidRequest)) throw error;
    return { unreadable: { videoId, key: `output/${keys.route(videoId)}`, cause: error.message } };
  }
}

/**
 * Refuses, before anything is written, to build a revision the video's route has published: what
 * ValidateInput checks for the run, and each writer of a revision's bytes (PackageBatch,
 * WritePlaylist) again, so no path rewrites them. A damaged record publishes nothing it can be
 * read to name (converting again is how it is repaired).
 */
export async function refusePublished(
  objects: ObjectStore,
  videoId: string,
  revision: string,
  hint = 'start a conversion without "revision" to build a new one',
): Promise<void> {
  const { route } = await readRouteTolerant(objects, videoId);
  if (!hasPublished(route, revision)) return;
  const how = route!.revision === revision ? 'is being served' : 'was served and may still be played';
  throw new RevisionPublished(`revision ${revision} of ${videoId} ${how}: its bytes are never written again; ${hint}`);
}

/** What `list --json` and the player page show of a video. */
export function routeSummary(route: RouteRecord) {
  return {
    videoId: route.videoId,
    name: route.sourceKey,
    kind: route.kind,
    durationSeconds: route.durationSeconds,
    segments: route.segmentCount,
    packages: route.packages.length,
    revision: route.revision,
    registeredAt: route.registeredAt,
  };
}

/** Newest first. */
export function byNewest(a: RouteRecord, b: RouteRecord): number {
  return a.registeredAt < b.registeredAt ? 1 : -1;
}

export interface RouteListing {
  routes: RouteRecord[];
  /** Records that could not be read: whatever they may own is kept, and they are named to the person. */
  unreadable: UnreadableRoute[];
}

export async function listRoutes(objects: ObjectStore): Promise<RouteListing> {
  const listing: RouteListing = { routes: [], unreadable: [] };
  for (const object of await objects.list('output', keys.routesPrefix)) {
    const videoId = object.key.slice(keys.routesPrefix.length).replace(/\.json$/, '');
    const { route, unreadable } = await readRouteTolerant(objects, videoId);
    if (route) listing.routes.push(route);
    if (unreadable) listing.unreadable.push(unreadable);
  }
  return listing;
}

/** The line that tells a person which records were skipped: "1 record unreadable: output/routes/x.json (why)". */
export function unreadableLine(unreadable: readonly UnreadableRoute[]): string | undefined {
  if (unreadable.length === 0) return undefined;
  const count = unreadable.length === 1 ? '1 record' : `${unreadable.length} records`;
  return `${count} unreadable: ${unreadable.map((u) => `${u.key} (${u.cause})`).join('; ')}`;
}
