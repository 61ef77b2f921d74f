// A file's bytes in order through one reused buffer: hashing a large file (the input's SHA-256, a
// segment's CRC-32) makes no garbage per megabyte, so it sets off no collections.
import { open } from 'node:fs/promises';

/** Calls `each` with consecutive chunks of the file; a chunk is valid only during that call. */
export async function forEachChunk(path: string, each: (chunk: Buffer) => void, bufferBytes = 4 * 1024 * 1024): Promise<void> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(bufferBytes);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      each(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
}
