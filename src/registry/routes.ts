// The route registry: one JSON object per video in the output bucket, naming the revision served
// and the function behind each `<n>.ts`.
import { parseRoute } from '../core/documents';
import { InputNotFound } from '../core/errors';
import type { RouteRecord } from '../core/model';
import { keys } from '../core/naming';
import type { ObjectStore } from '../ports';
import { readDocument } from '../read-document';

export async function readRoute(objects: ObjectStore, videoId: string): Promise<RouteRecord | undefined> {
  try {
    return await readDocument(objects, 'output', keys.route(videoId), parseRoute);
  } catch (error) {
    if (error instanceof InputNotFound) return undefined; // one read, not head + get: this runs per request
    throw error;
  }
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

export async function listRoutes(objects: ObjectStore): Promise<RouteRecord[]> {
  const found: RouteRecord[] = [];
  for (const object of await objects.list('output', keys.routesPrefix)) {
    const videoId = object.key.slice(keys.routesPrefix.length).replace(/\.json$/, '');
    const route = await readRoute(objects, videoId);
    if (route) found.push(route);
  }
  return found;
}
