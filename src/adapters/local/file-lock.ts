// A lock held by a file: written whole under a name of this process's, then linked into place
// (which fails when a lock exists), so no reader ever sees a half-written lock and takes it for a
// dead one. A lock whose holder has stopped — by pid and start time, so a pid used again does not
// count — is taken over. What a video's conversions take turns on (the execution store) and what
// a conditional write of the local object store holds.
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { asNoSpace } from '../../core/errors';
import { isRunning, parseProcessId, processTag, thisProcess, type ProcessId } from '../../process-identity';

/** Takes the lock at `path` unless a running process holds it: the release, or that holder. `where` names the disk for NoSpace. */
export function tryLinkLock(path: string, where: string): { release: () => void } | { holder: ProcessId } {
  const staged = `${path}.${processTag()}`;
  for (;;) {
    try {
      writeFileSync(staged, JSON.stringify({ ...thisProcess(), since: new Date().toISOString() }));
    } catch (error) {
      rmSync(staged, { force: true });
      throw asNoSpace(error, where);
    }
    try {
      linkSync(staged, path);
      return { release: () => rmSync(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      rmSync(staged, { force: true });
    }
    const holder = lockHolder(path);
    if (holder) return { holder };
    rmSync(path, { force: true }); // its process is gone (or its pid now names another process): stale
  }
}

/** The process holding the lock at `path` while it runs; undefined when it cannot be read (gone meanwhile, or not a lock). */
export function lockHolder(path: string): ProcessId | undefined {
  try {
    const holder = parseProcessId(readFileSync(path, 'utf8'));
    return holder && isRunning(holder, statSync(path).mtimeMs) ? holder : undefined;
  } catch {
    return undefined;
  }
}
