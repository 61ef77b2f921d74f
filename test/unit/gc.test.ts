// gc against conversions that finish while it runs, and against records it cannot read: it must
// never delete what a registered video's playlist points at, nor what a damaged record may own.
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { processTag } from '../../src/process-identity';
import { keys } from '../../src/core/naming';
import type { ObjectStore } from '../../src/ports';
import { collectGarbage, type RunningExecutions } from '../../src/registry/gc';
import { listRoutes } from '../../src/registry/routes';
import { ExecutionStore } from '../../cli/executions';
import { localTarget } from '../../cli/targets';
import { freshBackend, tempDir } from '../support/fixtures';
import { memoryPorts } from '../support/memory';
import { lost, PREFIX, registered, routeOf } from '../support/gc';

/** The promise's value, or 'still waiting' after `ms` (the lock tests are bounded in time). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<'still waiting'>((r) => (timer = setTimeout(() => r('still waiting'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('gc while a conversion finishes', () => {
  // A conversion of video 0 at a new revision is under way when gc starts: its packages exist, its
  // route does not yet. At one of gc's reads it registers and ends. Every point is tried.
  async function raceAt(point: number) {
    const ports = memoryPorts();
    for (let n = 1; n <= 20; n++) {
      const video = await registered(ports, n);
      await ports.objects.put('output', keys.route(video.videoId), JSON.stringify(routeOf(video.videoId, video.revision, video.packages)));
    }
    const converting = await registered(ports, 0, 'cafe0001');
    let runningNow = true;
    let reads = 0;
    const finish = async () => {
      if (reads++ !== point || !runningNow) return;
      await ports.objects.put(
        'output',
        keys.route(converting.videoId),
        JSON.stringify(routeOf(converting.videoId, 'cafe0001', converting.packages)),
      );
      runningNow = false;
    };
    // Every read gc makes is a point where the conversion may finish just before.
    const finishingFirst =
      <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        await finish();
        return call(...args);
      };
    const objects: ObjectStore = {
      head: finishingFirst((b, k) => ports.objects.head(b, k)),
      get: finishingFirst((b, k) => ports.objects.get(b, k)),
      getTagged: finishingFirst((b, k) => ports.objects.getTagged(b, k)),
      putIf: (b, k, body, condition) => ports.objects.putIf(b, k, body, condition),
      list: finishingFirst((b, p) => ports.objects.list(b, p)),
      read: (b, k) => ports.objects.read(b, k),
      put: (b, k, body) => ports.objects.put(b, k, body),
      putFile: (b, k, p) => ports.objects.putFile(b, k, p),
      moveFile: (b, k, p) => ports.objects.moveFile(b, k, p),
      delete: (b, k) => ports.objects.delete(b, k),
      readableLocation: (b, k) => ports.objects.readableLocation(b, k),
    };
    const code = {
      ...ports.code,
      list: finishingFirst((p: string) => ports.code.list(p)),
      delete: (n: string) => ports.code.delete(n),
    };
    const running = async (): Promise<RunningExecutions> => {
      await finish();
      return { revisions: new Set(runningNow ? [`${converting.videoId}/cafe0001`] : []), sources: new Set() };
    };
    await collectGarbage({ objects, code: code as typeof ports.code, functionPrefix: PREFIX }, running);
    return { lost: await lost(ports), reads };
  }

  it('loses nothing wherever among its reads the conversion finishes', async () => {
    const { reads } = await raceAt(-1); // how many reads gc makes
    expect(reads).toBeGreaterThan(20);
    const losses: string[] = [];
    for (let point = 0; point < reads; point++) {
      const result = await raceAt(point);
      losses.push(...result.lost.map((l) => `finishing before read ${point}: ${l}`));
    }
    expect(losses).toEqual([]);
  });
});

describe('gc and list with a record that cannot be read', () => {
  it('names it, lists the rest, and keeps everything the damaged video has', async () => {
    const ports = memoryPorts();
    const good = await registered(ports, 1);
    await ports.objects.put('output', keys.route(good.videoId), JSON.stringify(routeOf(good.videoId, good.revision, good.packages)));
    const damaged = await registered(ports, 2);
    const text = JSON.stringify(routeOf(damaged.videoId, damaged.revision, damaged.packages));
    await ports.objects.put('output', keys.route(damaged.videoId), text.slice(0, 138)); // cut mid-string
    // A record of the right shape that names another video: its own video's files would look like nobody's.
    const misfiled = await registered(ports, 3);
    await ports.objects.put('output', keys.route(misfiled.videoId), JSON.stringify(routeOf(good.videoId, good.revision, good.packages)));

    const listing = await listRoutes(ports.objects);
    expect(listing.routes.map((r) => r.videoId)).toEqual([good.videoId]);
    expect(listing.unreadable.map((u) => u.key).sort()).toEqual(
      [`output/${keys.route(damaged.videoId)}`, `output/${keys.route(misfiled.videoId)}`].sort(),
    );
    expect(listing.unreadable.find((u) => u.videoId === damaged.videoId)?.cause).toMatch(/is not JSON/);

    const report = await collectGarbage({ ...ports, functionPrefix: PREFIX }, async () => ({ revisions: new Set(), sources: new Set() }));
    expect(report.functions).toEqual([]);
    expect(report.objects).toEqual([]);
    expect(report.unreadable).toHaveLength(2);
    for (const video of [damaged, misfiled]) {
      for (const name of video.packages) expect(ports.code.functions.has(name)).toBe(true);
      expect(await ports.objects.head('output', keys.playlist(video.videoId, video.revision))).toBeDefined();
    }
  });
});

describe('the local lock', () => {
  it('is taken over from a process that had this pid before (pid reuse), old format or new', async () => {
    const store = new ExecutionStore(freshBackend().settings.home);
    // A lock written by "pid <ours>" before this process started: every container's entry point is pid 1.
    const path = store.lockPath('a-000000');
    mkdirSync(store.dir, { recursive: true });
    writeFileSync(path, String(process.pid));
    utimesSync(path, new Date('2001-01-01'), new Date('2001-01-01'));
    const taken = await within(5_000, store.lock('a-000000'));
    expect(typeof taken).toBe('function');
    (taken as () => void)();
    writeFileSync(path, JSON.stringify({ pid: process.pid, started: 'another-boot:1' }));
    const again = await within(5_000, store.lock('a-000000'));
    expect(typeof again).toBe('function');
    (again as () => void)();
  });

  it('gives up after its timeout, naming the lock file, while a live process holds it', async () => {
    const store = new ExecutionStore(freshBackend().settings.home);
    const held = await store.lock('b-000000');
    const waited: string[] = [];
    await expect(
      within(
        5_000,
        store.lock('b-000000', (holder, path) => waited.push(`${holder.pid} ${path}`), { timeoutMs: 300, pollMs: 50 }),
      ),
    ).rejects.toMatchObject({ name: 'LockTimeout', message: expect.stringContaining(store.lockPath('b-000000')) });
    expect(waited).toEqual([`${process.pid} ${store.lockPath('b-000000')}`]);
    held();
  });

  it('is removed by gc when its holder is gone, and kept while it runs', async () => {
    const backend = freshBackend({ scratchDir: tempDir('scratch') });
    const store = new ExecutionStore(backend.settings.home);
    const held = await store.lock('c-000000');
    writeFileSync(store.lockPath('d-000000'), JSON.stringify({ pid: process.pid, started: 'another-boot:1' }));
    const target = localTarget(backend);
    const report = await collectGarbage(target.stores(), () => target.running(), { leftovers: target.leftovers! });
    expect(report.leftovers).toEqual(['executions/d-000000.lock']);
    expect(store.deadLocks()).toEqual([]);
    held();
  });
});

describe("what a killed process leaves outside the stores' listings", () => {
  it('gc finds partial copies, staged packages, scratch folders and locks whose writer is gone, and only those', async () => {
    const scratch = tempDir('scratch');
    const backend = freshBackend({ scratchDir: scratch });
    const home = backend.settings.home;
    const store = new ExecutionStore(home);
    // Named by a process with this pid that started at another time: pid reuse, as in a container.
    const dead = `${process.pid.toString(36)}.zz`;
    const live = processTag();
    const write = (path: string) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, 'half');
    };
    for (const tag of [dead, live]) {
      write(join(home, 'buckets', 'input', 'folder-abc123', `%tmp-${tag}-00aa11bb`));
      write(join(home, 'functions', 'not-a-segment-function', `code.zip.${tag}-22cc33dd`));
      mkdirSync(join(scratch, `segment-v-000000-${tag}-Ab12Cd`));
    }
    write(store.lockPath('v-000000'));
    writeFileSync(store.lockPath('v-000000'), JSON.stringify({ pid: process.pid, started: 'another-boot:1' }));
    const target = localTarget(backend);
    const report = await collectGarbage(target.stores(), () => target.running(), { leftovers: target.leftovers!, dryRun: true });
    expect(report.leftovers.sort()).toEqual(
      [
        `buckets/input/folder-abc123/%tmp-${dead}-00aa11bb`,
        `functions/not-a-segment-function/code.zip.${dead}-22cc33dd`,
        'executions/v-000000.lock',
        join(scratch, `segment-v-000000-${dead}-Ab12Cd`),
      ].sort(),
    );
    await collectGarbage(target.stores(), () => target.running(), { leftovers: target.leftovers! });
    expect(existsSync(join(scratch, `segment-v-000000-${dead}-Ab12Cd`))).toBe(false);
    expect(existsSync(join(scratch, `segment-v-000000-${live}-Ab12Cd`))).toBe(true);
    expect(existsSync(join(home, 'functions', 'not-a-segment-function', `code.zip.${live}-22cc33dd`))).toBe(true);
    expect(existsSync(join(home, 'buckets', 'input', 'folder-abc123', `%tmp-${live}-00aa11bb`))).toBe(true);
    expect((await target.leftovers!.list()).sort()).toEqual([]);
  });
});
