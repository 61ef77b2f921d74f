// The real ASL file on the local engine, with the real steps and local adapters: one named case
// per path through the machine, asserting on the execution history and on what is left behind.
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { InvalidRequest, TooManyRequestsException } from '../../src/core/errors';
import { CONTROL_PLANE_RETRY } from '../../src/core/retry';
import { faultSetup, InvalidFaultSpec, parseFaults } from '../../src/adapters/local/faults';
import { checkPlaylist } from '../../src/core/playlist';
import { keys, revisionFor, videoIdFor } from '../../src/core/naming';
import { readRoute } from '../../src/registry/routes';
import { convertFile, type ConvertResult } from '../../cli/convert';
import { loadDefinition, runStateMachine, UnboundTask } from '../../cli/engine';
import { failedState, summarizeStates } from '../../src/core/history';
import { compactEvent, ExecutionStore } from '../../cli/executions';
import { conversionProgress } from '../../cli/progress';
import type { Settings } from '../../src/composition/settings';
import { bindSteps } from '../../src/composition/steps';
import type { ChunkRequest, Ports } from '../../src/ports';
import { startServer } from '../../cli/server';
import { localTarget } from '../../cli/targets';
import { collectGarbage } from '../../src/registry/gc';
import { localKeyOf } from '../support/cli';
import { DEFAULT_LIMITS, ffmpegMediaTool } from '../../src/adapters/ffmpeg/media-tool';
import { CONVERSION_STATES, freshBackend, leftovers, makeMp3, makeVideo, makeWav, tempDir, writeText } from '../support/fixtures';

const options = { segmentSeconds: 2, profile: 'source' as const, ladder: 'source' as const };
let dir: string;
let mp4: string;
let mp3: string;

beforeAll(() => {
  dir = tempDir('sm');
  mp4 = makeVideo(join(dir, 'clip.mp4'), { seconds: 5 });
  mp3 = makeMp3(join(dir, 'song.mp3'), 5);
});

async function convert(file: string, config: Partial<Settings> = {}, wrapPorts?: (p: Ports) => Ports) {
  const ports = freshBackend(config);
  const result = await convertFile(file, { backend: ports, options, retryDelayMs: 0, wrapPorts });
  const store = new ExecutionStore(ports.settings.home);
  return { ports, result, events: store.events(result.executionName), record: store.read(result.executionName) };
}

/** The code store as is, noting for every createPackage whether it made a new package. */
function recordingCreates(inner: Ports['code']) {
  const created: boolean[] = [];
  const code = Object.create(inner) as Ports['code'];
  code.createPackage = async (name, zip) => {
    const result = await inner.createPackage(name, zip);
    created.push(result.created);
    return result;
  };
  return { code, created };
}

/** An execution started by hand with a malformed input (`source` not an object), on fresh local ports. */
/** Progress as ConvertVideo's ASL places each step's result (the file read once). */
const progressOf = conversionProgress();

async function runMalformedInput(validate = false) {
  const ports = freshBackend();
  const handlers = bindSteps(ports, ports.settings);
  const run = await runStateMachine({ loaded: loadDefinition(), handlers, input: { source: 'x' }, retryDelayMs: 0, validate });
  return { status: run.status, failure: failedState(run.events.map((event) => compactEvent(event, progressOf))) };
}

function expectFailed(result: ConvertResult, state: string, error: string) {
  expect(result.status).toBe('FAILED');
  expect(result.error).toMatchObject({ state, error });
  expect(result.error?.cause).toBeTruthy();
  expect(result.error?.cause).not.toMatch(/\n/);
}

describe('ConvertVideo, happy paths', () => {
  it('converts an mp4 through every state and registers a playable route', async () => {
    const { ports, result, events, record } = await convert(mp4);
    expect(result.status).toBe('SUCCEEDED');
    const entered = events.filter((e) => e.type === 'StateEntered' && e.index === undefined).map((e) => e.state);
    expect(entered).toEqual(CONVERSION_STATES);
    expect(record?.status).toBe('SUCCEEDED');

    const route = await readRoute(ports.objects, result.videoId);
    // A few small segments share one package.
    expect(result.segments).toBeGreaterThanOrEqual(2);
    expect(route?.packages).toHaveLength(1);
    expect(result.stats).toMatchObject({ segments: result.segments, packages: 1 });
    const functions = readdirSync(join(ports.settings.home, 'functions'));
    expect(functions.sort()).toEqual([...route!.packages].sort());

    const playlist = (await ports.objects.get('output', route!.playlistKey)).toString();
    const check = checkPlaylist(playlist);
    expect(check.problems).toEqual([]);
    expect(check.segments.reduce((s, x) => s + x.duration, 0)).toBeCloseTo(5, 0);
    // Only the packages, the playlist and the pictures remain: work files and the input copy are gone.
    const { revision } = route!;
    expect(leftovers(ports.settings.home).filter((f) => f.startsWith('buckets/'))).toEqual(
      [
        `buckets/output/${route!.playlistKey}`,
        `buckets/output/${keys.route(result.videoId)}`,
        `buckets/output/${keys.poster(result.videoId, revision)}`,
        `buckets/output/${keys.storyboard(result.videoId, revision)}`,
        `buckets/output/${keys.storyboardImage(result.videoId, revision)}`,
      ].sort(),
    );
  });

  it('converts an mp3 into audio-only segments', async () => {
    const { ports, result } = await convert(mp3);
    // With the error, so that a failure says why (it failed once under a full suite's load, not since).
    expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    const route = await readRoute(ports.objects, result.videoId);
    expect(route?.kind).toBe('audio');
    expect(route?.durationSeconds).toBeGreaterThan(4.9);
  });

  it('finds an identical earlier conversion instead of running again', async () => {
    const ports = freshBackend();
    const first = await convertFile(mp4, { backend: ports, options, retryDelayMs: 0 });
    const second = await convertFile(mp4, { backend: ports, options, retryDelayMs: 0 });
    expect(second).toMatchObject({ status: 'SUCCEEDED', reused: true, executionName: first.executionName });
  });

  it("keeps the previous revision's packages for the grace period once the route moves to a new revision", async () => {
    const ports = freshBackend();
    const first = await convertFile(mp4, { backend: ports, options, retryDelayMs: 0 });
    const functions = readdirSync(join(ports.settings.home, 'functions')).sort();
    // A second execution by hand of the same source key, another revision.
    const key = localKeyOf(mp4);
    await ports.objects.putFile('input', key, mp4);
    const { code, created } = recordingCreates(ports.code);
    const server = await startServer({ backend: ports });
    const run = await runStateMachine({
      loaded: loadDefinition(),
      handlers: bindSteps({ ...ports, code }, ports.settings),
      input: { source: { key }, revision: revisionFor('x', {}), options },
      retryDelayMs: 0,
    }).finally(() => server.close());
    expect(run.status).toBe('SUCCEEDED');
    expect(first.status).toBe('SUCCEEDED');
    // Different revision: new packages; the first revision's stay for the grace period (a player
    // may hold its playlist), and the route names them as retired until then.
    expect(created.every(Boolean)).toBe(true);
    expect(functions.every((f) => readdirSync(join(ports.settings.home, 'functions')).includes(f))).toBe(true);
    const route = await readRoute(ports.objects, first.videoId);
    expect(route!.retired).toMatchObject([{ revision: first.executionName.split('-').pop() ?? '', packages: functions }]);
  });

  it('gives a player holding the old playlist the old bytes through the grace period, then 410, never the new revision’s; then deletes them', async () => {
    const ports = freshBackend();
    const first = await convertFile(mp4, { backend: ports, options, retryDelayMs: 0 });
    const old = (await readRoute(ports.objects, first.videoId))!;
    const oldPlaylist = checkPlaylist((await ports.objects.get('output', old.playlistKey)).toString('utf8'));
    // Converted again (another revision: other options), while a player still holds the old playlist.
    const key = localKeyOf(mp4);
    await ports.objects.putFile('input', key, mp4);
    let now = Date.now();
    const server = await startServer({ backend: { ...ports, clock: () => now } });
    try {
      const run = await runStateMachine({
        loaded: loadDefinition(),
        handlers: bindSteps(ports, ports.settings),
        input: { source: { key }, revision: revisionFor('again', {}), options: { ...options, segmentSeconds: 1 } },
        retryDelayMs: 0,
      });
      expect(run.status).toBe('SUCCEEDED');
      const current = (await readRoute(ports.objects, first.videoId))!;
      expect(current.revision).not.toBe(old.revision);
      /** What the player gets for a segment of the old playlist: its status, and the bytes of its range. */
      const played = async (segment: (typeof oldPlaylist.segments)[number]) => {
        const redirect = await fetch(`${server.url}/v/${first.videoId}/${segment.uri}`, { redirect: 'manual' });
        if (redirect.status !== 302) return { status: redirect.status };
        const range = `bytes=${segment.offset}-${segment.offset + segment.length - 1}`;
        const body = await fetch(new URL(redirect.headers.get('location')!, server.url), { headers: { Range: range } });
        return { status: body.status, bytes: Buffer.from(await body.arrayBuffer()) };
      };
      for (const segment of oldPlaylist.segments) {
        const pkg = old.packages[Number(segment.uri.replace(/^.*\//, '').replace('.ts', ''))]!;
        const expected = readFileSync(ports.code.zipPath(pkg)).subarray(segment.offset, segment.offset + segment.length);
        expect(await played(segment)).toEqual({ status: 206, bytes: expected });
      }
      // Past the grace: gone, not another revision's bytes.
      now += ports.settings.revisionGraceSeconds * 1000 + 60_000;
      await new Promise((r) => setTimeout(r, 10));
      const fresh = await startServer({ backend: { ...ports, clock: () => now } }); // no cached route
      try {
        expect((await fetch(`${fresh.url}/v/${first.videoId}/${oldPlaylist.segments[0]!.uri}`, { redirect: 'manual' })).status).toBe(410);
      } finally {
        await fresh.close();
      }
      // gc then deletes the old revision's functions and playlist, and keeps the current one's.
      const target = localTarget(ports);
      const gc = await collectGarbage(target.stores(), () => target.running(), { now: () => now });
      expect(gc.functions.sort()).toEqual([...old.packages].sort());
      expect(readdirSync(join(ports.settings.home, 'functions')).sort()).toEqual([...current.packages].sort());
      expect(await ports.objects.head('output', old.playlistKey)).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('refuses a repeat run of the served revision (a console execution with its input copied): RevisionPublished, nothing written', async () => {
    const ports = freshBackend();
    const server = await startServer({ backend: ports });
    const input = { source: { key: 'clip.mp4' }, revision: 'abcd1234', options };
    const { code, created } = recordingCreates(ports.code);
    const handlers = bindSteps({ ...ports, code }, ports.settings);
    try {
      await ports.objects.putFile('input', 'clip.mp4', mp4);
      expect((await runStateMachine({ loaded: loadDefinition(), handlers, input, retryDelayMs: 0 })).status).toBe('SUCCEEDED');
      const route = await readRoute(ports.objects, videoIdFor('clip.mp4'));
      const playlist = await ports.objects.get('output', route!.playlistKey);
      const files = leftovers(ports.settings.home).map((f) => [f, readFileSync(join(ports.settings.home, f))] as const);
      const made = created.length;
      // Other options, the served revision kept: the console's New execution does exactly this.
      for (const again of [input, { ...input, options: { ...options, segmentSeconds: 2 } }]) {
        const run = await runStateMachine({ loaded: loadDefinition(), handlers, input: again, retryDelayMs: 0 });
        expect(run.status).toBe('FAILED');
        expect(failedState(run.events.map((event) => compactEvent(event, progressOf)))).toMatchObject({
          state: 'ValidateInput',
          error: 'RevisionPublished',
          cause: expect.stringMatching(/^revision abcd1234 of clip-[0-9a-f]+ is being served: its bytes are never written again/),
        });
      }
      // Not a byte changed, nothing made, nothing deleted.
      expect(created).toHaveLength(made);
      expect(await ports.objects.get('output', route!.playlistKey)).toEqual(playlist);
      expect(leftovers(ports.settings.home).map((f) => [f, readFileSync(join(ports.settings.home, f))] as const)).toEqual(files);
    } finally {
      await server.close();
    }
  });
});

describe('ConvertVideo, input errors end in the right state and leave nothing behind', () => {
  const cases: [string, () => string, Partial<Settings>, string, string][] = [
    ['a .avi file', () => writeText(join(dir, 'movie.avi'), 'x'), {}, 'ValidateInput', 'UnsupportedExtension'],
    ['an empty .mp4', () => writeText(join(dir, 'empty.mp4'), ''), {}, 'ValidateInput', 'EmptyInput'],
    ['an input over the size limit', () => mp4, { maxInputBytes: 1000 }, 'ValidateInput', 'InputTooLarge'],
    ['a text file named .mp4', () => writeText(join(dir, 'notes.mp4'), 'not a video\n'), {}, 'ValidateInput', 'NotMedia'],
    ['a WAV named .mp3', () => makeWav(join(dir, 'tone.mp3'), 2), {}, 'ValidateInput', 'NotMedia'],
    [
      'a function prefix that leaves no room',
      () => mp4,
      { functionPrefix: 'a-much-too-long-service-name-for-the-production-stage-seg-' },
      'ValidateInput',
      'NameTooLong',
    ],
    ['a code storage quota too small', () => mp4, { quotaBytes: 10_000 }, 'SegmentMedia', 'CodeStorageQuotaExceeded'],
  ];

  it.each(cases)('%s', async (_, file, config, state, error) => {
    const { ports, result, events, record } = await convert(file(), config);
    expectFailed(result, state, error);
    expect(record?.error).toMatchObject({ state, error });
    expect(events.filter((e) => e.type === 'StateRetried')).toEqual([]);
    expect(events.some((e) => e.type === 'StateEntered' && e.state === 'CleanUp')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'ExecutionFailed', error });
    expect(leftovers(ports.settings.home)).toEqual([]);
  });

  it('fails with InputNotFound when an execution started by hand names a missing object', async () => {
    const ports = freshBackend();
    const run = await runStateMachine({
      loaded: loadDefinition(),
      handlers: bindSteps(ports, ports.settings),
      input: { source: { key: 'gone.mp4' }, revision: 'abcd1234' },
      retryDelayMs: 0,
    });
    expect(run.status).toBe('FAILED');
    expect(failedState(run.events.map((e) => compactEvent(e, progressOf)))).toMatchObject({
      state: 'ValidateInput',
      error: 'InputNotFound',
    });
  });

  it('converts when started by hand with the console input {"key": …}', async () => {
    const ports = freshBackend();
    await ports.objects.putFile('input', 'clip.mp4', mp4);
    const server = await startServer({ backend: ports });
    const run = await runStateMachine({
      loaded: loadDefinition(),
      handlers: bindSteps(ports, ports.settings),
      input: { key: 'clip.mp4', options: { segmentSeconds: 2 } },
      retryDelayMs: 0,
    }).finally(() => server.close());
    expect([run.status, JSON.stringify(run.events.filter((e) => /Failed/.test(e.type))).slice(0, 900)]).toEqual(['SUCCEEDED', '[]']);
    expect(await readRoute(ports.objects, videoIdFor('clip.mp4'))).toMatchObject({ sourceKey: 'clip.mp4', segmentCount: 3 });
  });

  it('fails with InvalidRequest when the execution input is malformed', async () => {
    expect(await runMalformedInput()).toMatchObject({ status: 'FAILED', failure: { state: 'ValidateInput', error: 'InvalidRequest' } });
  });
});

describe('ConvertVideo, faults after packages exist', () => {
  const throttleCreate =
    (times: number) =>
    (ports: Ports): Ports => {
      let calls = 0;
      const code = Object.create(ports.code) as Ports['code'];
      code.createPackage = async (name, zip) => {
        if (calls++ < times) throw new TooManyRequestsException('Rate exceeded');
        return ports.code.createPackage(name, zip);
      };
      return { ...ports, code };
    };

  it('retries a throttled CreateFunction inside the batch, and the batch result reports it', async () => {
    const { result, events } = await convert(mp4, {}, throttleCreate(1));
    expect(result.status).toBe('SUCCEEDED');
    expect(events.filter((e) => e.type === 'StateRetried')).toHaveLength(0);
    expect(summarizeStates(events).find((s) => s.state === 'PackageSegments')).toMatchObject({ retries: 0, callRetries: 1 });
  });

  it('retries the whole batch from the state machine when the throttling outlasts the in-step retries', async () => {
    const { ports, result, events } = await convert(mp4, {}, throttleCreate(CONTROL_PLANE_RETRY.attempts!));
    expect(result.status).toBe('SUCCEEDED');
    const retried = events.filter((e) => e.type === 'StateRetried');
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ state: 'PackageBatch' });
    expect(events.find((e) => e.type === 'StateFailed')).toMatchObject({ error: 'TooManyRequestsException' });
    // The failed attempt's own three call retries went with it; the history shows its failure.
    expect(summarizeStates(events).find((s) => s.state === 'PackageSegments')).toMatchObject({ retries: 1 });
    const route = await readRoute(ports.objects, result.videoId);
    expect(readdirSync(join(ports.settings.home, 'functions')).sort()).toEqual([...route!.packages].sort());
  });

  it('fails cleanly through CleanUp under persistent throttling, deleting the packages it made', async () => {
    let made = 0;
    const { ports, result, events } = await convert(mp4, { packageBytes: 1 }, (p) => {
      const code = Object.create(p.code) as Ports['code'];
      // The first package goes through, every later one is throttled for good.
      code.createPackage = async (name, zip) => {
        if (made++ === 0) return p.code.createPackage(name, zip);
        throw new TooManyRequestsException('Rate exceeded');
      };
      return { ...p, code };
    });
    expectFailed(result, 'PackageSegments', 'TooManyRequestsException');
    expect(events.filter((e) => e.type === 'StateRetried').length).toBeGreaterThan(1);
    expect(leftovers(ports.settings.home)).toEqual([]);
  });

  /** Packages after the first fail for good; deleting a function is refused (as an IAM policy would). */
  const failingWithUndeletable = (p: Ports): Ports => {
    let made = 0;
    const code = Object.create(p.code) as Ports['code'];
    code.createPackage = async (name, zip) => {
      if (made++ < 2) return p.code.createPackage(name, zip);
      throw new TooManyRequestsException('Rate exceeded');
    };
    code.delete = async (name) => {
      if (!(await p.code.describe(name))) return false; // nothing to delete: no permission asked
      const denied = new Error(`not authorized to perform lambda:DeleteFunction on ${name}`);
      denied.name = 'AccessDeniedException';
      throw denied;
    };
    return { ...p, code };
  };

  it('says in the final error that CleanUp could not remove what it made, and gc removes it', async () => {
    const { ports, result, events } = await convert(mp4, { packageBytes: 1 }, failingWithUndeletable);
    expectFailed(result, 'PackageSegments', 'TooManyRequestsException');
    expect(result.error!.cause).toMatch(
      /^Rate exceeded — and CleanUp could not remove 2 functions this run made \(AccessDeniedException: not authorized to perform lambda:DeleteFunction on \S+\): lambda-hls gc removes them$/,
    );
    // The history says the same: the execution's own cause.
    expect(events.find((e) => e.type === 'ExecutionFailed')?.cause).toBe(result.error!.cause);
    expect(readdirSync(join(ports.settings.home, 'functions'))).toHaveLength(2);
    // Everything else went: the work files and the input copy.
    expect(leftovers(ports.settings.home).filter((f) => !f.startsWith('functions/'))).toEqual([]);
    const target = localTarget(ports);
    const gc = await collectGarbage(target.stores(), () => target.running(), { inputIsScratch: true });
    expect(gc.functions).toHaveLength(2);
    expect(leftovers(ports.settings.home)).toEqual([]);
  });

  it('says in the final error that CleanUp itself failed, with the original error kept', async () => {
    const { result, events } = await convert(mp4, { packageBytes: 1 }, (p) => {
      const failing = failingWithUndeletable(p);
      // CleanUp cannot even read the video's route: it fails as a whole, every retry.
      const objects = Object.create(p.objects) as Ports['objects'];
      // (ValidateInput and PackageBatch read it too, to refuse a published revision: for them it still reads.)
      objects.get = async (bucket, key) => {
        if (key.startsWith('routes/') && /\bcleanUp\b/.test(new Error().stack ?? '')) throw new Error('the disk is on fire');
        return p.objects.get(bucket, key);
      };
      return { ...failing, objects };
    });
    expectFailed(result, 'PackageSegments', 'TooManyRequestsException');
    expect(result.error!.cause).toBe(
      'Rate exceeded — and CleanUp itself failed (Error), so what this run made may be left behind; lambda-hls gc removes it',
    );
    expect(summarizeStates(events).find((s) => s.state === 'CleanUp')).toMatchObject({ status: 'FAILED' });
  });

  it('fails with PackageMismatch when the stored code is not what was written, leaving nothing', async () => {
    const { ports, result } = await convert(mp4, {}, (p) => {
      const code = Object.create(p.code) as Ports['code'];
      code.describe = async (name) => {
        const found = await p.code.describe(name);
        return found && { ...found, codeSha256: 'AAAA' };
      };
      return { ...p, code };
    });
    expectFailed(result, 'ComputeOffsets', 'PackageMismatch');
    expect(leftovers(ports.settings.home)).toEqual([]);
  });

  it('removes the pictures MakePreviews wrote when a later state fails, leaving nothing', async () => {
    let pictures = 0;
    const { ports, result } = await convert(mp4, {}, (p) => {
      const objects = Object.create(p.objects) as Ports['objects'];
      objects.putFile = async (bucket, key, path, type) => {
        if (type === 'image/jpeg') pictures++;
        return p.objects.putFile(bucket, key, path, type);
      };
      // The route record cannot be written: RegisterRoute fails, after the pictures were stored.
      objects.putIf = async (bucket, key, body, condition, type) => {
        if (key.startsWith(keys.routesPrefix)) throw new InvalidRequest('the route store refuses this record (test)');
        return p.objects.putIf(bucket, key, body, condition, type);
      };
      return { ...p, objects };
    });
    expect(pictures).toBe(2);
    expectFailed(result, 'RegisterRoute', 'InvalidRequest');
    expect(leftovers(ports.settings.home)).toEqual([]);
  });

  it('keeps the video being served when a repeat of its conversion fails', async () => {
    const ports = freshBackend();
    const first = await convertFile(mp4, { backend: ports, options, retryDelayMs: 0 });
    const server = await startServer({ backend: ports });
    await ports.objects.putFile('input', 'clip.mp4', mp4);
    const full = Object.create(ports.code) as Ports['code'];
    full.quota = async () => ({ limitBytes: 1, usedBytes: 1 });
    const run = await runStateMachine({
      loaded: loadDefinition(),
      handlers: bindSteps({ ...ports, code: full }, ports.settings),
      input: { source: { key: 'clip.mp4' }, revision: (await readRoute(ports.objects, first.videoId))!.revision, options },
      retryDelayMs: 0,
    }).finally(() => server.close());
    expect(run.status).toBe('FAILED');
    const route = await readRoute(ports.objects, first.videoId);
    expect(readdirSync(join(ports.settings.home, 'functions')).sort()).toEqual([...route!.packages].sort());
  });
});

describe('the local runtime', () => {
  it('refuses to run when a Task has no local binding', async () => {
    const ports = freshBackend();
    const { computeOffsets: _unbound, ...handlers } = bindSteps(ports, ports.settings);
    await expect(runStateMachine({ loaded: loadDefinition(), handlers, input: {}, retryDelayMs: 0 })).rejects.toThrow(UnboundTask);
  });

  it('runs a definition the engine validates (runs skip the validation for speed)', async () => {
    // InvalidRequest, after the definition passed validation.
    expect(await runMalformedInput(true)).toMatchObject({ status: 'FAILED', failure: { error: 'InvalidRequest' } });
  });
});

describe('ConvertVideo under faults injected by LAMBDA_HLS_FAULTS', () => {
  let long: string;
  beforeAll(() => {
    long = makeVideo(join(dir, 'faults.mp4'), { seconds: 12 });
  });

  async function convertWithFaults(spec: string, seed: string) {
    // One package per segment, so the code store sees many calls.
    const ports = freshBackend({ packageBytes: 1 });
    const counts = { calls: 0, throttle: 0, transient: 0, slow: 0 };
    const result = await convertFile(long, {
      backend: ports,
      options: { segmentSeconds: 1, profile: 'source', ladder: 'source' },
      retryDelayMs: 0,
      faults: faultSetup(parseFaults(spec), Number(seed)),
      faultCounts: counts,
    });
    const events = new ExecutionStore(ports.settings.home).events(result.executionName);
    return { ports, result, events, counts };
  }

  it('succeeds with half of the code-store calls throttled, whatever the draws', async () => {
    const outcomes: string[] = [];
    for (const seed of ['1', '2', '3', '4', '5', '6']) {
      const { result, counts } = await convertWithFaults('code.throttle=0.5', seed);
      expect(counts.throttle).toBeGreaterThan(10);
      outcomes.push(`seed ${seed}: ${result.status}${result.error ? ` in ${result.error.state}: ${result.error.cause}` : ''}`);
    }
    expect(outcomes).toEqual(['1', '2', '3', '4', '5', '6'].map((seed) => `seed ${seed}: SUCCEEDED`));
  }, 120_000);

  it('succeeds with 30% of code-store calls throttled, and the history shows the retries', async () => {
    const { result, events, counts } = await convertWithFaults('code.throttle=0.3', '7');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.segments).toBeGreaterThanOrEqual(10);
    expect(counts.throttle).toBeGreaterThan(3);
    // Throttled calls were retried one by one inside the Tasks (the batches' results count them, and
    // the history shows the count), so no Task had to be repeated as a whole.
    const packaging = summarizeStates(events).find((s) => s.state === 'PackageSegments')!;
    expect(packaging.status).toBe('SUCCEEDED');
    expect(packaging.callRetries).toBeGreaterThan(0);
    // A Task that failed and was retried shows its error here (seen once under a loaded full run: a PackageBatch retried).
    expect(events.filter((e) => e.type === 'StateRetried' || e.type === 'StateFailed')).toEqual([]);
  });

  it('succeeds with transient object-store faults and slow media calls as well', async () => {
    const { result, counts } = await convertWithFaults('objects.transient=0.1,media.slow=0.5:20', '3');
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    expect(counts.transient + counts.slow).toBeGreaterThan(0);
  });

  it('fails cleanly through CleanUp when the code store is throttled for good, leaving nothing', async () => {
    const { ports, result, events } = await convertWithFaults('code.throttle=1', '1');
    expect(result.status).toBe('FAILED');
    expect(result.error).toMatchObject({ error: 'TooManyRequestsException' });
    expect(events.some((e) => e.type === 'StateEntered' && e.state === 'CleanUp')).toBe(true);
    expect(events.filter((e) => e.type === 'StateRetried').length).toBeGreaterThan(1);
    expect(leftovers(ports.settings.home)).toEqual([]);
  });

  it('refuses a fault spec it cannot read, naming the part', () => {
    expect(() => parseFaults('code.throttle=0.3,disk.full=1')).toThrow(/"disk.full=1" is not <port>.<kind>=<rate 0..1>/);
    expect(() => parseFaults('code.throttle=1.5')).toThrow(InvalidFaultSpec);
    expect(parseFaults('media.slow=0.5:250')).toEqual([{ port: 'media', kind: 'slow', rate: 0.5, delayMs: 250 }]);
  });
});

/** The status for a path sent exactly as written (fetch would resolve `..` before sending). */
function rawStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('the local server answers only what is registered and signed, on 127.0.0.1', () => {
  let ports: ReturnType<typeof freshBackend>;
  let videoId: string;
  /** Its revision: segment URIs are `/v/<id>/<revision>/<n>.ts`. */
  let revision: string;
  let describes = 0;
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    ports = freshBackend({ urlLifetimeSeconds: 2 });
    videoId = (await convertFile(mp4, { backend: ports, options, retryDelayMs: 0 })).videoId;
    revision = (await readRoute(ports.objects, videoId))!.revision;
    const code = Object.create(ports.code) as typeof ports.code;
    code.describe = (name) => {
      describes++;
      return ports.code.describe(name);
    };
    server = await startServer({ backend: { ...ports, code } });
  });
  afterAll(() => server.close());

  it('listens on 127.0.0.1 unless told otherwise', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Not reachable on the machine's other addresses, where it has any.
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (outside) await expect(fetch(`http://${outside.address}:${server.port}/`)).rejects.toThrow();
  });

  it.each([
    ['an unknown video', () => '/v/other-video-000000/0.ts'],
    ['a segment past the end', () => `/v/${videoId}/${revision}/999.ts`],
    ['a revision the video never had', () => `/v/${videoId}/ffff0000/0.ts`],
    ['a negative segment', () => `/v/${videoId}/-1.ts`],
    ['a huge segment number', () => `/v/${videoId}/${'9'.repeat(40)}.ts`],
    ['dot segments', () => `/v/${videoId}/../${videoId}/0.ts`],
    ['encoded dot segments', () => `/v/${videoId}/%2e%2e/0.ts`],
    ['an encoded slash', () => `/v/${videoId}%2F0.ts`],
    ['an encoded backslash', () => `/v/${videoId}%5C0.ts`],
    ['a NUL byte', () => `/v/${videoId}/0%00.ts`],
    ['a double slash', () => `/v//${videoId}/0.ts`],
    ['an overlong path', () => `/v/${'a'.repeat(5000)}/0.ts`],
    ['a fractional segment', () => `/v/${videoId}/1.5.ts`],
    ['a route file', () => `/v/../routes/${videoId}.json`],
  ])('404 for %s, without asking the code store', async (_, path) => {
    const before = describes;
    expect(await rawStatus(server.port, path())).toBe(404);
    expect(describes).toBe(before);
  });

  it('serves a code URL only as signed: another function, a moved expiry, a changed or missing signature, or too late → 403', async () => {
    const redirect = await fetch(`${server.url}/v/${videoId}/${revision}/0.ts`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const good = new URL(redirect.headers.get('location')!, server.url);
    expect((await fetch(good)).status).toBe(200);
    const variants: URL[] = [];
    const other = new URL(good);
    other.pathname = other.pathname.replace(/-0\.zip$/, '-1.zip');
    variants.push(other);
    const later = new URL(good);
    later.searchParams.set('expires', String(Number(good.searchParams.get('expires')) + 3600));
    variants.push(later);
    const flipped = new URL(good);
    flipped.searchParams.set('signature', '0'.repeat(64));
    variants.push(flipped);
    const bare = new URL(good);
    bare.search = '';
    variants.push(bare);
    for (const url of variants) expect((await fetch(url)).status).toBe(403);
    // The URLs live 2 s here: a server whose clock is 3 s ahead finds this one expired.
    const aheadServer = await startServer({ backend: { ...ports, clock: () => Date.now() + 3_000 } });
    try {
      const expired = await fetch(new URL(`${good.pathname}${good.search}`, aheadServer.url));
      expect(expired.status).toBe(403);
      expect(await expired.text()).toMatch(/expired/);
    } finally {
      await aheadServer.close();
    }
  });

  it('answers 400 for a request target it cannot parse, and reads an absolute-form target by its path', async () => {
    expect(await rawStatus(server.port, 'http://%zz/')).toBe(400);
    expect(await rawStatus(server.port, 'ftp://example/v/x')).toBe(400);
    expect(await rawStatus(server.port, '//')).toBe(400);
    expect(await rawStatus(server.port, `http://127.0.0.1:${server.port}/v/${videoId}/index.m3u8`)).toBe(200);
  });

  it('honours If-Range (RFC 9110 §13.1.5): the range while the validator matches, the whole package once it does not', async () => {
    const redirect = await fetch(`${server.url}/v/${videoId}/${revision}/0.ts`, { redirect: 'manual' });
    const location = new URL(redirect.headers.get('location')!, server.url);
    const code = new URL(`${location.pathname}${location.search}`, server.url); // this server, whichever made the URL
    const whole = await fetch(code);
    const etag = whole.headers.get('etag')!;
    const lastModified = whole.headers.get('last-modified')!;
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    const ranged = (ifRange: string) => fetch(code, { headers: { Range: 'bytes=0-29', 'If-Range': ifRange } });
    expect((await ranged(etag)).status).toBe(206);
    expect((await ranged(lastModified)).status).toBe(206);
    for (const stale of ['"0-0"', `W/${etag}`, 'Thu, 01 Jan 1970 00:00:00 GMT']) {
      const answer = await ranged(stale);
      expect(answer.status).toBe(200);
      expect((await answer.arrayBuffer()).byteLength).toBe(Number(whole.headers.get('content-length')));
    }
  });

  it('sends CORS on the media a player reads, and not on the API that lists what was converted', async () => {
    const cors = async (path: string, method = 'GET') =>
      (await fetch(`${server.url}${path}`, { method, redirect: 'manual' })).headers.get('access-control-allow-origin');
    expect(await cors(`/v/${videoId}/index.m3u8`)).toBe('*');
    expect(await cors(`/v/${videoId}/${revision}/0.ts`)).toBe('*');
    expect(await cors(`/v/${videoId}/index.m3u8`, 'OPTIONS')).toBe('*');
    expect(await cors('/api/videos')).toBeNull();
    expect(await cors('/api/stats')).toBeNull();
    expect(await cors('/api/videos', 'OPTIONS')).toBeNull();
  });

  it('refuses a code path that is not a function name', async () => {
    for (const path of ['/code/../signing-key', '/code/%2e%2e%2fsigning-key.zip', `/code/${'a'.repeat(65)}.zip`]) {
      expect(await rawStatus(server.port, path)).toBe(404);
    }
  });
});

/** The processes whose command line contains `text` (Linux: /proc). */
function processesNaming(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false; // ended while we looked
      }
    })
    .map(Number);
}

/** A 30-second source transcoded as one chunk of one-second segments: many segments, quickly. */
function transcodeInSeconds(input: string, outDir: string): ChunkRequest {
  return {
    input,
    format: 'mp4',
    plan: { video: 'encode', rendition: 'source', audio: 'none' },
    segmentSeconds: 1,
    firstSegment: 0,
    segmentCount: 30,
    start: 0,
    end: 30,
    timeOffset: 0,
    sourceStart: 0,
    outDir,
  };
}

describe('segmenting streams: each segment is handed over as ffmpeg finishes it', () => {
  it('keeps scratch within a few segments while the caller is slower than ffmpeg, and hands over all of them in order', async () => {
    const source = makeVideo(join(dir, 'long for streaming.mp4'), { seconds: 30, size: '320x180', videoCodec: 'mpeg4' });
    const outDir = tempDir('segments');
    const seen: number[] = [];
    let mostOnDisk = 0;
    let largest = 0;
    let total = 0;
    // A small budget, so these small segments fill it: ffmpeg pauses at 3 of them, waiting.
    const pendingBytes = 3 * 12_000;
    const stream = await ffmpegMediaTool({}, { ...DEFAULT_LIMITS, pendingBytes }).encodeChunk(transcodeInSeconds(source, outDir));
    for await (const file of stream) {
      const onDisk = readdirSync(outDir).filter((f) => f.endsWith('.ts'));
      mostOnDisk = Math.max(
        mostOnDisk,
        onDisk.reduce((sum, f) => sum + statSync(join(outDir, f)).size, 0),
      );
      largest = Math.max(largest, file.bytes);
      seen.push(file.index);
      total += file.duration;
      expect(statSync(file.path).size).toBe(file.bytes);
      await new Promise((r) => setTimeout(r, 60)); // an upload
      rmSync(file.path);
    }
    expect(seen).toEqual(seen.map((_, i) => i));
    expect(seen.length).toBeGreaterThanOrEqual(25);
    expect(total).toBeCloseTo(30, 0);
    // Bounded by the budget, not by the input: the waiting ones, the one being written, the one just
    // handed over, and the few ffmpeg closes in the 50 ms before it sees its list and is paused (how
    // many depends on ffmpeg's speed, so the bound leaves room for them). Without the pause, the
    // caller's pace would leave most of the 30 on disk.
    expect(mostOnDisk).toBeLessThanOrEqual(pendingBytes + 7 * largest);
    expect(mostOnDisk).toBeLessThan((seen.length * largest) / 3);
  });

  it('stops ffmpeg when the caller stops taking segments', async () => {
    const source = makeVideo(join(dir, 'abandoned stream.mp4'), { seconds: 30, size: '320x180', videoCodec: 'mpeg4' });
    const outDir = tempDir('segments');
    for await (const file of await ffmpegMediaTool().encodeChunk(transcodeInSeconds(source, outDir))) {
      // ffmpeg is at work meanwhile: its command line names the scratch folder.
      if (file.index === 0) expect(processesNaming(outDir)).toHaveLength(1);
      if (file.index === 1) break;
    }
    // Stopping the iteration ended ffmpeg (and waited for it): nothing writes there any more.
    expect(processesNaming(outDir)).toEqual([]);
    expect(readdirSync(outDir).length).toBeLessThan(15);
  });
});

describe('packing: several segments per package, each with its own byte range', () => {
  it('spreads the segments over packages by the size bound, and every range reads back as MPEG-TS', async () => {
    const clip = makeVideo(join(dir, 'packed.mp4'), { seconds: 8, size: '320x180' });
    const probe = await convert(clip);
    const one = await readRoute(probe.ports.objects, probe.result.videoId);
    expect(one?.packages).toHaveLength(1);
    // About three segments per package.
    const playlist = checkPlaylist((await probe.ports.objects.get('output', one!.playlistKey)).toString());
    const perSegment = Math.max(...playlist.segments.map((s) => s.length!)) + 120;
    const { ports, result } = await convert(clip, { packageBytes: 3 * perSegment + 22 });
    const route = await readRoute(ports.objects, result.videoId);
    const packed = checkPlaylist((await ports.objects.get('output', route!.playlistKey)).toString());
    expect(packed.problems).toEqual([]);
    expect(route!.packages.length).toBeGreaterThanOrEqual(Math.ceil(result.segments / 3));
    expect(route!.packages.length).toBeLessThan(result.segments);
    expect(result.stats.packages).toBe(route!.packages.length);
    const server = await startServer({ backend: ports });
    try {
      let previous = { uri: '', end: 0 };
      for (const segment of packed.segments) {
        const pkg = Number(segment.uri.replace(/^.*\//, '').replace('.ts', ''));
        const location = (await ports.code.describe(route!.packages[pkg]!))!;
        expect(segment.offset! + segment.length!).toBeLessThanOrEqual(location.codeSize);
        // Within a package, each segment starts after the previous one (and its entry header).
        if (segment.uri === previous.uri) expect(segment.offset!).toBeGreaterThan(previous.end);
        previous = { uri: segment.uri, end: segment.offset! + segment.length! };
        const bytes = await ports.code.readRange(location.url, segment.offset!, segment.offset! + segment.length! - 1);
        expect(bytes.length).toBe(segment.length);
        for (let at = 0; at < bytes.length; at += 188) expect(bytes[at]).toBe(0x47);
      }
    } finally {
      await server.close();
    }
  });
});
