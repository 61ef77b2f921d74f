// The route registry: one JSON object per video in the output bucket, naming the revision served
// and the function behind each `<n>.ts`.
import { parseDocument, parseRouteDocument } from '../core/documents';
import { InvalidRequest, RevisionPublished, Superseded } from '../core/errors';
import { hasPublished } from '../core/grace';
import { isLaterUpload, type DeletedRoute, type RouteRecord, type Upload } from '../core/model';
import { keys } from '../core/naming';
import type { ObjectStore } from '../ports';

/** The record a video has in the output bucket, as read, with its ETag (what RegisterRoute's conditional write compares). */
export interface RouteState {
  /** The record's ETag; absent when there is no record. */
  etag?: string;
  route?: RouteRecord;
  /** The mark a deployed `delete` left. */
  deleted?: DeletedRoute;
  unreadable?: UnreadableRoute;
}

/**
 * Reads a video's record as it is: a route, the mark of a deletion, a damaged record (named), or
 * nothing. Store failures (throttling, permissions) throw.
 */
export async function readRouteState(objects: ObjectStore, videoId: string): Promise<RouteState> {
  const key = keys.route(videoId);
  // One read, not head + get: this runs per request.
  const tagged = await objects.getTagged('output', key);
  if (!tagged) return {};
  try {
    const record = parseDocument(tagged.body.toString('utf8'), `output/${key}`, parseRouteDocument);
    // A record under another video's key would make that video's files look like nobody's.
    if (record.videoId !== videoId) throw new InvalidRequest(`output/${key} names another video (${record.videoId})`);
    return 'deletedAt' in record ? { etag: tagged.etag, deleted: record } : { etag: tagged.etag, route: record };
  } catch (error) {
    if (!(error instanceof InvalidRequest)) throw error;
    return { etag: tagged.etag, unreadable: { videoId, key: `output/${key}`, cause: error.message } };
  }
}

/** The route a video is served by; undefined when none (or deleted); InvalidRequest when its record is damaged. */
export async function readRoute(objects: ObjectStore, videoId: string): Promise<RouteRecord | undefined> {
  const { route, unreadable } = await readRouteState(objects, videoId);
  if (unreadable) throw new InvalidRequest(unreadable.cause);
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
  const { route, unreadable } = await readRouteState(objects, videoId);
  return route ? { route } : unreadable ? { unreadable } : {};
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
  refuseIfPublished(route, videoId, revision, hint);
}

/** refusePublished on a record already read. */
export function refuseIfPublished(route: RouteRecord | undefined, videoId: string, revision: string, hint: string): void {
  if (!hasPublished(route, revision)) return;
  const how = route!.revision === revision ? 'is being served' : 'was served and may still be played';
  throw new RevisionPublished(`revision ${revision} of ${videoId} ${how}: its bytes are never written again; ${hint}`);
}

/** Refuses a run of an upload older than the one the route serves: S3 may notify uploads of a key out of order. */
export function refuseIfSuperseded(route: RouteRecord | undefined, upload: Upload | undefined, key: string): void {
  if (!route || !isLaterUpload(route.upload, upload)) return;
  throw new Superseded(
    `a later upload of ${JSON.stringify(key)} (revision ${route.revision}) is served already: this run, of an earlier upload, stops`,
  );
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
  /** The marks deployed deletions left (gc removes them once no run from before can still register). */
  deleted: DeletedRoute[];
}

export async function listRoutes(objects: ObjectStore): Promise<RouteListing> {
  const listing: RouteListing = { routes: [], unreadable: [], deleted: [] };
  for (const object of await objects.list('output', keys.routesPrefix)) {
    const videoId = object.key.slice(keys.routesPrefix.length).replace(/\.json$/, '');
    const { route, unreadable, deleted } = await readRouteState(objects, videoId);
    if (route) listing.routes.push(route);
    if (unreadable) listing.unreadable.push(unreadable);
    if (deleted) listing.deleted.push(deleted);
  }
  return listing;
}

/** The line that tells a person which records were skipped: "1 record unreadable: output/routes/x.json (why)". */
export function unreadableLine(unreadable: readonly UnreadableRoute[]): string | undefined {
  if (unreadable.length === 0) return undefined;
  const count = unreadable.length === 1 ? '1 record' : `${unreadable.length} records`;
  return `${count} unreadable: ${unreadable.map((u) => `${u.key} (${u.cause})`).join('; ')}`;
}
