// The composition layer: one step table that the ASL, serverless.yml and the deployed environment
// agree with, one settings table that --help and the README are made from, and backends that build
// only the ports a step uses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { awsBackend } from '../../src/composition/backends/aws';
import { localBackend } from '../../src/composition/backends/local';
import { InvalidSetting, readSettings, SETTINGS, settingsHelp, settingsTable } from '../../src/composition/settings';
import { FUNCTION_KEYS, runStep, STEPS } from '../../src/composition/steps';
import { loadDefinition } from '../../cli/engine';
import type { Ports } from '../../src/ports';
import { tempDir } from '../support/fixtures';

const ROOT = join(__dirname, '..', '..');

describe('the step table', () => {
  const serverless = parseYaml(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as { functions: Record<string, { handler: string }> };

  it('names exactly the functions serverless.yml deploys, each handler in the folder of its name', () => {
    expect(Object.keys(serverless.functions).sort()).toEqual([...FUNCTION_KEYS].sort());
    for (const key of FUNCTION_KEYS) {
      const folder = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      expect(serverless.functions[key]!.handler).toBe(`functions/${folder}/handler.handler`);
      // The handler is one line naming its entry (a function URL that streams its answer: its streaming entry).
      const entry = STEPS[key].invokedBy === 'function URL' ? 'streamingHandler' : 'lambdaHandler';
      const handler = readFileSync(join(ROOT, 'functions', folder, 'handler.ts'), 'utf8');
      expect(handler).toContain(`export const handler = ${entry}('${key}', ${key}Step);`);
      // It imports its own step's module and the Lambda wiring, nothing else: its bundle carries one step.
      expect(handler.match(/from '[^']+'/g)).toEqual(["from '../../src/composition/lambda'", `from '../../src/steps/${folder}'`]);
    }
  });

  it('has an entry for every Task of the ASL, and only the Tasks are invoked by the state machine', () => {
    const tasks = loadDefinition()
      .tasks.map((t) => t.functionKey)
      .sort();
    const invokedByMachine = FUNCTION_KEYS.filter((key) => STEPS[key].invokedBy === 'state machine').sort();
    expect(invokedByMachine).toEqual(tasks);
  });

  it('gives each Task state the name of its function key (the Map inner Task included)', () => {
    for (const task of loadDefinition().tasks) expect(task.state).toBe(task.functionKey[0]!.toUpperCase() + task.functionKey.slice(1));
  });

  it('builds only the ports a step names: CleanUp never touches media or executions', async () => {
    const touched: string[] = [];
    const backend = localBackend(readSettings({ LAMBDA_HLS_HOME: tempDir('composition') }));
    const watched = new Proxy(backend, {
      get(target, key, receiver) {
        touched.push(String(key));
        return Reflect.get(target, key, receiver) as unknown;
      },
    }) as Ports;
    await runStep(
      'cleanUp',
      { error: { Error: 'NotMedia', Cause: 'x' }, job: { videoId: 'clip-1a2b3c' }, revision: 'abcd1234' },
      watched,
      backend.settings,
    );
    expect(new Set(touched)).toEqual(new Set(['objects', 'code']));
  });

  it("grants through a step's ports only, and uses every AWS port it names: its access is its role (deploy/stack.js)", () => {
    // The ports on AWS services, and the access that goes through each.
    const through = { objects: ['objects'], code: ['code', 'accountSettings'], executions: ['executions'] } as const;
    for (const key of FUNCTION_KEYS) {
      const { ports, access } = STEPS[key];
      const granted = Object.keys(access);
      for (const [port, kinds] of Object.entries(through)) {
        const uses = (ports as readonly string[]).includes(port);
        const grantedThrough = granted.filter((kind) => (kinds as readonly string[]).includes(kind));
        expect([key, port, uses]).toEqual([key, port, grantedThrough.length > 0]);
      }
      expect([
        key,
        granted.filter(
          (kind) =>
            !Object.values(through)
              .flat()
              .includes(kind as never),
        ),
      ]).toEqual([key, []]);
    }
  });

  it('refuses a malformed event before any port is built', async () => {
    const ports = awsBackend(readSettings({}), 'us-east-1'); // no buckets: building a port would throw BackendUnavailable
    await expect(runStep('writePlaylist', { job: 'x' }, ports, readSettings({}))).rejects.toMatchObject({ name: 'InvalidRequest' });
  });
});

describe('settings', () => {
  it("give ffprobe and ffmpeg a deployed function's memory less what Node keeps, 4 GiB elsewhere, or what is set", () => {
    expect(readSettings({}).mediaMemoryMb).toBe(4096);
    expect(readSettings({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024' }).mediaMemoryMb).toBe(768);
    expect(readSettings({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256' }).mediaMemoryMb).toBe(128);
    expect(readSettings({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008', LAMBDA_HLS_MEDIA_MEMORY_MB: '0' }).mediaMemoryMb).toBe(0);
  });

  it('take their defaults when nothing is set', () => {
    expect(readSettings({})).toMatchObject({
      functionPrefix: 'lhls-',
      maxInputBytes: 10 * 1024 ** 3,
      packageBytes: 52_428_414,
      maxPackageBytes: 262_144_000,
      quotaBytes: 300e9,
      urlLifetimeSeconds: 600,
      faults: [],
      faultSeed: undefined,
      ffmpegPath: undefined,
    });
  });

  it.each([
    [
      'LAMBDA_HLS_PACKAGE_BYTES',
      '300000000',
      /LAMBDA_HLS_PACKAGE_BYTES must be a whole number of bytes from 1 to 262144000, got "300000000"/,
    ],
    ['LAMBDA_HLS_MAX_INPUT_BYTES', '-1', /LAMBDA_HLS_MAX_INPUT_BYTES must be a whole number/],
    ['LAMBDA_HLS_URL_LIFETIME_SECONDS', '1.5', /whole number of seconds/],
    ['LAMBDA_HLS_FUNCTION_PREFIX', 'bad prefix', /letters, digits, - or _/],
    ['LAMBDA_HLS_FAULTS', 'code.throttle=lots', /"code.throttle=lots" is not <port>.<kind>=<rate 0..1>/],
  ])('refuse %s=%s with InvalidSetting naming it', (name, value, message) => {
    expect(() => readSettings({ [name]: value })).toThrow(InvalidSetting);
    expect(() => readSettings({ [name]: value })).toThrow(message);
  });

  it('are all in --help but those the stack sets', () => {
    const help = settingsHelp();
    for (const spec of SETTINGS) {
      if (spec.scope === 'stack') expect(help).not.toContain(spec.name);
      else expect(help).toContain(`  ${spec.name} `);
    }
  });

  it('are all in the README, in the table made from them', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(settingsTable());
  });
});
