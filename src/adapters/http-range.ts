// Ranged reads through a signed package URL. Both code stores hand out plain HTTPS/HTTP URLs, so
// one reader serves the AWS adapter and the local one.
import { TransientNetworkError } from '../core/errors';

export class UrlRefused extends Error {
  override readonly name = 'UrlRefused' as const;
}

/** Bytes `start`..`end` inclusive; throws TransientNetworkError for resets and 5xx. */
export async function readRange(url: string, start: number, end: number): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { Range: `bytes=${start}-${end}` }, redirect: 'follow' });
  } catch (error) {
    throw new TransientNetworkError(`cannot reach the package URL: ${(error as Error).message}`);
  }
  if (response.status >= 500) {
    throw new TransientNetworkError(`package URL answered ${response.status}`);
  }
  if (response.status === 403 || response.status === 404) {
    throw new UrlRefused(`package URL answered ${response.status}: expired, tampered with or gone`);
  }
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status === 206) return body;
  // A server may ignore Range and send the whole thing; take the slice ourselves.
  if (response.status === 200) return body.subarray(start, end + 1);
  throw new UrlRefused(`package URL answered ${response.status} to a ranged read`);
}

/**
 * A single `bytes=` range (what players send) → inclusive bounds, 'unsatisfiable', or none.
 * RFC 9110 §14.1.1: a range whose last position is before its first is invalid, and an invalid
 * ranges-specifier is ignored (the whole body, 200) — as S3 does; only a valid range that starts
 * past the end is unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // ignore what we do not understand, as S3 does
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    if (match[2] !== '' && Number(match[2]) < start) return undefined;
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
