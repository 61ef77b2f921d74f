// The Range header of a request for a segment's bytes, read as S3 reads it. Pure: both playback
// routes and the local server use it.

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
