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
