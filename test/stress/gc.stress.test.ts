// gc against many conversions finishing at random moments while it runs, on the local backend
// with 1,000 registered videos: a stress run (npm run test:stress, in npm test and CI; not in
// test:quick). The moments come from a seeded generator: STRESS_SEED=<n> repeats a run, and a
// failure names its seed. Every read point is covered deterministically by test/unit/gc.test.ts.
import { seededRandom } from '../../src/adapters/local/faults';
import { collectGarbage } from '../../src/registry/gc';
import { keys, packageFunctionName, revisionFor, videoIdFor } from '../../src/core/naming';
import { ExecutionStore } from '../../cli/executions';
import { localTarget } from '../../cli/targets';
import { freshBackend, tempDir } from '../support/fixtures';
import { lost, PREFIX, registered, routeOf } from '../support/gc';
import { bufferSource } from '../support/memory';

const SEED = Number(process.env.STRESS_SEED ?? 20261207);
const TRIALS = 10;

const random = seededRandom(SEED);

describe('gc under load', () => {
  it(`loses nothing on the local backend with 1,000 videos and conversions finishing at random moments (seed ${SEED})`, async () => {
    const backend = freshBackend({ scratchDir: tempDir('scratch') });
    const { objects, code } = backend;
    const store = new ExecutionStore(backend.settings.home);
    for (let n = 1; n <= 1000; n++) {
      const video = await registered(backend, n);
      await objects.put('output', keys.route(video.videoId), JSON.stringify(routeOf(video.videoId, video.revision, video.packages)));
    }
    const target = localTarget(backend);
    const gc = () => collectGarbage(target.stores(), () => target.running(), { hold: (id) => target.hold!(id), inputIsScratch: true });
    // How long one gc takes here: the conversions finish at random moments within it.
    const started = Date.now();
    await gc();
    const gcMs = Date.now() - started;
    for (let trial = 0; trial < TRIALS; trial++) {
      // Conversions as convertFile runs them: lock, history record, packages, then the route, then
      // done. Their names sort first, so gc reads their routes early and the window is widest.
      const conversions = [0, 1, 2, 3, 4, 5].map(async (k) => {
        const sourceKey = `clips/a${trial}-${k}.mp4`;
        const revision = revisionFor(`t${trial}-${k}`, {});
        const videoId = videoIdFor(sourceKey);
        const release = await store.lock(videoId);
        const record = {
          executionName: `${videoId}-${revision}`,
          videoId,
          revision,
          sourceKey,
          status: 'RUNNING' as const,
          startedAt: new Date().toISOString(),
          pid: process.pid,
          input: {},
        };
        store.start(record);
        const packages = [0, 1].map((p) => packageFunctionName(PREFIX, videoId, revision, p));
        for (const name of packages) await code.createPackage(name, bufferSource(Buffer.from(name)));
        await objects.put('output', keys.playlist(videoId, revision), '#EXTM3U\n');
        await new Promise((r) => setTimeout(r, random() * gcMs));
        await objects.put('output', keys.route(videoId), JSON.stringify(routeOf(videoId, revision, packages)));
        store.finish({ ...record, status: 'SUCCEEDED' as never, stoppedAt: new Date().toISOString() });
        release();
      });
      await new Promise((r) => setTimeout(r, 10));
      await gc();
      await Promise.all(conversions);
      expect({ trial, seed: SEED, lost: await lost({ objects, code }) }).toEqual({ trial, seed: SEED, lost: [] });
    }
  }, 300_000);
});
