// Ranged reads through a signed package URL. Both code stores hand out plain HTTPS/HTTP URLs, so
// one reader serves the AWS adapter and the local one.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { TransientNetworkError } from '../core/errors';

export class UrlRefused extends Error {
  override readonly name = 'UrlRefused' as const;
}

/** A ranged GET of a package URL; throws TransientNetworkError for resets and 5xx, UrlRefused for 403 and 404. */
async function rangedGet(url: string, start: number, end: number): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { Range: `bytes=${start}-${end}` }, redirect: 'follow' });
  } catch (error) {
    throw new TransientNetworkError(`cannot reach the package URL: ${(error as Error).message}`);
  }
  if (response.status >= 500) {
    await response.body?.cancel();
    throw new TransientNetworkError(`package URL answered ${response.status}`);
  }
  if (response.status === 403 || response.status === 404) {
    await response.body?.cancel();
    throw new UrlRefused(`package URL answered ${response.status}: expired, tampered with or gone`);
  }
  return response;
}

/** Bytes `start`..`end` inclusive; throws TransientNetworkError for resets and 5xx. */
export async function readRange(url: string, start: number, end: number): Promise<Buffer> {
  const response = await rangedGet(url, start, end);
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status === 206) return body;
  // A server may ignore Range and send the whole thing; take the slice ourselves.
  if (response.status === 200) return body.subarray(start, end + 1);
  throw new UrlRefused(`package URL answered ${response.status} to a ranged read`);
}

/**
 * The same bytes as a stream, as they arrive (CodeStore.streamRange): 'refused' when the URL is
 * (403, 404); throws TransientNetworkError for resets and 5xx, and for any answer but a 206.
 */
export async function streamRange(url: string, start: number, end: number): Promise<Readable | 'refused'> {
  let response: Response;
  try {
    response = await rangedGet(url, start, end);
  } catch (error) {
    if (error instanceof UrlRefused) return 'refused';
    throw error;
  }
  if (response.status === 206 && response.body) return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  await response.body?.cancel();
  throw new TransientNetworkError(`package URL answered ${response.status} to a ranged read`);
}
