// What a killed lambda-hls leaves on this machine outside what the stores list: partial copies in
// the buckets, staged package files, SegmentMedia scratch folders, and locks. Each is named by the
// process that made it (pid and start time), so only those whose process is gone are found.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalBackend } from '../src/composition/backends/local';
import { InvalidRequest } from '../src/core/errors';
import { SCRATCH_PREFIX } from '../src/core/naming';
import { tagStillRunning } from '../src/process-identity';
import type { Leftovers } from '../src/registry/gc';
import type { ExecutionStore } from './executions';

/** A scratch folder's writer: `segment-<videoId>-<tag>-XXXXXX`, the tag second from the end. */
function scratchWriter(name: string): string | undefined {
  if (!name.startsWith(SCRATCH_PREFIX)) return undefined;
  const parts = name.split('-');
  return parts.length >= 4 ? parts[parts.length - 2] : undefined;
}

/** Paths relative to the home folder (`buckets/…`, `functions/…`, `executions/…`), scratch folders as they are. */
export function localLeftovers(backend: LocalBackend, store: ExecutionStore): Leftovers {
  const scratch = backend.settings.scratchDir;
  return {
    async list() {
      const found = [
        ...(await backend.objects.abandonedTemporaries()).map((p) => `buckets/${p}`),
        ...(await backend.code.abandonedStaging()).map((p) => `functions/${p}`),
        ...store.deadLocks(),
      ];
      for (const name of (await readdir(scratch).catch(() => [] as string[])).sort()) {
        const writer = scratchWriter(name);
        if (writer !== undefined && !tagStillRunning(writer)) found.push(join(scratch, name));
      }
      return found;
    },
    async remove(path) {
      const [area = '', ...rest] = path.split('/');
      if (area === 'buckets') await backend.objects.removeTemporary(rest.join('/'));
      else if (area === 'functions') await backend.code.removeStaged(rest.join('/'));
      else if (area === 'executions') store.removeDeadLock(rest.join('/'));
      else if (path.startsWith(join(scratch, SCRATCH_PREFIX)) && scratchWriter(path.slice(scratch.length + 1)) !== undefined) {
        await rm(path, { recursive: true, force: true });
      } else throw new InvalidRequest(`${path} is not something gc removes`);
    },
  };
}
