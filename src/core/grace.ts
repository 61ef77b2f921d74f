// Grace periods: a revision a newer one replaced stays answered for a while (players may hold its
// playlist), then 'gone'; and what a route has published, which is never written again.
import type { RetiredRevision, RouteRecord } from './model';

/** Whether a retired revision is still answered at `now` (epoch ms). */
export function isInGrace(retired: RetiredRevision, now: number): boolean {
  return Date.parse(retired.until) > now;
}

/**
 * What a route answers for one of its revisions at `now` (epoch ms): its own revision's packages
 * and playlist, a retired one's within its grace, 'gone' past it, undefined for a revision it never had.
 */
export function answeredRevision(
  route: RouteRecord,
  revision: string,
  now: number,
): Pick<RetiredRevision, 'packages' | 'playlistKey' | 'renditions' | 'pictures'> | 'gone' | undefined {
  if (revision === route.revision) return route;
  const retired = route.retired?.find((r) => r.revision === revision);
  if (!retired) return undefined;
  return isInGrace(retired, now) ? retired : 'gone';
}

/**
 * Whether a route has published a revision: the one it serves, or one it retired (players may hold
 * its playlist). A published revision's functions and playlist are never written again.
 */
export function hasPublished(route: Pick<RouteRecord, 'revision' | 'retired'> | undefined, revision: string): boolean {
  return route !== undefined && (route.revision === revision || (route.retired ?? []).some((r) => r.revision === revision));
}

/** The retired revisions still answered at `now` (epoch ms). */
export function retiredInGrace(route: Pick<RouteRecord, 'retired'>, now: number): RetiredRevision[] {
  return (route.retired ?? []).filter((r) => isInGrace(r, now));
}
