// The stack's functions as Lambda runs them: each bundle zip unzipped into a folder of its own (no
// node_modules anywhere above it), run by the Node.js major of the runtime the template deploys
// (nodejs24.x → Node 24, from the npm registry: scripts/test-prerequisites.mjs installs it; never
// silently another) in processes of its own — one per concurrent invocation, kept warm between
// them — with only the environment the template gives it, `/opt` mapped to its layers' content,
// and its timeout enforced.
import { spawnSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AccountConcurrency } from './concurrency';
import { type Account, resourcesOfType, type Template } from './stack';

const ROOT = join(__dirname, '..', '..', '..');
/** Where scripts/test-prerequisites.mjs installs the deployed runtime's Node (runtimeNodePath there). */
const RUNTIME_NODE = join(
  ROOT,
  'node_modules',
  '.cache',
  'lambda-hls-runtime',
  'node_modules',
  `node-${process.platform}-${process.arch}`,
  'bin',
  'node',
);
const RUNTIME = join(__dirname, 'runtime.cjs');
export const HOSTS = join(__dirname, 'hosts.cjs');

/** The Node.js the bundles run on: the runtime's, from the npm registry; an error when it is not there. */
export function lambdaNode(): string {
  if (!existsSync(RUNTIME_NODE))
    throw new Error(
      `the rehearsal runs the bundles on the deployed runtime's Node, which is not installed: node scripts/test-prerequisites.mjs`,
    );
  return RUNTIME_NODE;
}

/** The major version of a node binary. */
export function nodeMajor(node: string): number {
  const run = spawnSync(node, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${node} does not run: ${run.stderr}`);
  return Number(run.stdout.trim());
}

/**
 * The Node major a template's functions deploy on (every one the same nodejsNN.x), checked against
 * the one the rehearsal runs: a rehearsal on another Node proves nothing about the deployed one.
 */
export function checkRuntime(runtimes: string[], node: string): number {
  const majors = new Set(runtimes.map((runtime) => /^nodejs(\d+)\.x$/.exec(runtime)?.[1] ?? runtime));
  if (majors.size !== 1) throw new Error(`the stack's functions deploy on ${[...majors].join(', ')}: one Node.js runtime expected`);
  const deployed = Number([...majors][0]);
  const running = nodeMajor(node);
  if (deployed !== running)
    throw new Error(
      `the stack deploys nodejs${deployed}.x but the rehearsal's Node is ${running}: node scripts/test-prerequisites.mjs installs Node ${deployed}`,
    );
  return deployed;
}

/** The credentials a function's role gives it: the access key names the role, so every call can be attributed. */
export function roleCredentials(role: string): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: `ASIA${role.toUpperCase().replace(/[^A-Z0-9]/g, '')}`, secretAccessKey: `rehearsal-secret-${role}` };
}

export interface DeployedFunction {
  key: string;
  name: string;
  arn: string;
  role: string;
  timeoutSeconds: number;
  memorySize: number;
  handlerFile: string;
  handlerExport: string;
  environment: Record<string, string>;
}

/** What an invocation returns, or how it failed, as Lambda's runtime reports it (or the Invoke API refused it). */
export class InvocationError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: string[] = [],
    /** Refused by Lambda's Invoke API before the function ran (throttled): Step Functions prefixes `Lambda.`. */
    readonly byService = false,
  ) {
    super(errorMessage);
    this.name = errorType;
  }
}

interface Environment {
  process: ChildProcess;
  ready: Promise<void>;
}

function unzip(zip: string, into: string): void {
  mkdirSync(into, { recursive: true });
  const run = spawnSync('unzip', ['-q', '-o', zip, '-d', into], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`unzip ${zip}: ${run.stderr}`);
}

export class FunctionRunner {
  readonly functions = new Map<string, DeployedFunction>();
  private readonly warm = new Map<string, Environment[]>();
  private readonly all = new Set<ChildProcess>();
  private invocations = 0;
  private running = 0;
  private waiting: (() => void)[] = [];

  constructor(
    private readonly options: {
      /** Where the packaged zips are (serverless package --package). */
      packaged: string;
      /** A scratch folder for the unzipped bundles and layers. */
      root: string;
      /** Variables Lambda itself sets (region, endpoints of the emulated services). */
      lambdaEnvironment: Record<string, string>;
      /** The account's concurrency: reservations are made in it at deploy, invocations throttled by it. */
      account: AccountConcurrency;
    },
  ) {}

  /** Every line the functions wrote (stdout and stderr), by function key: their CloudWatch logs. */
  readonly logs: { function: string; line: string }[] = [];

  /** The Node.js major every function runs on (the template's runtime's, checked at deploy). */
  nodeMajor = 0;

  /** Unzips every function of the template and its layers, and prepares its environment. */
  deploy(template: Template, account: Account, packaged = this.options.packaged): void {
    const runtimes = resourcesOfType(template, account, 'AWS::Lambda::Function').map(([, props]) => String(props.Runtime));
    this.nodeMajor = checkRuntime(runtimes, lambdaNode());
    this.reserve(template, account);
    const layers = new Map<string, string>();
    for (const [id, props] of resourcesOfType(template, account, 'AWS::Lambda::LayerVersion')) {
      const dir = join(this.options.root, 'layers', id);
      const zip = join(packaged, `${id.replace(/LambdaLayer$/, '').toLowerCase()}.zip`);
      unzip(zip, dir);
      layers.set(`arn:aws:lambda:${account.region}:${account.account}:layer:${props.LayerName}:1`, dir);
    }
    for (const [id, props] of resourcesOfType(template, account, 'AWS::Lambda::Function')) {
      const key = `${id[0]!.toLowerCase()}${id.slice(1).replace(/LambdaFunction$/, '')}`;
      const dir = join(this.options.root, 'functions', key);
      unzip(join(packaged, `${key}.zip`), dir);
      // Lambda extracts each layer into /opt; here /opt is the one layer's folder, by name in the variables.
      const opt = ((props.Layers ?? []) as string[]).map((arn) => layers.get(arn)).find(Boolean);
      const variables = Object.fromEntries(
        Object.entries((props.Environment?.Variables ?? {}) as Record<string, string>).map(([name, value]) => [
          name,
          opt && String(value).startsWith('/opt/') ? join(opt, String(value).slice('/opt/'.length)) : String(value),
        ]),
      );
      // A new deploy of a function ends its warm environments: new ones start with the new code.
      for (const warm of this.warm.get(props.FunctionName) ?? []) stop(warm.process);
      this.warm.set(props.FunctionName, []);
      const [file, exported] = splitHandler(props.Handler as string);
      const role = String(props.Role).replace(/^arn:aws:iam::\d+:role\//, '');
      this.functions.set(props.FunctionName, {
        key,
        name: props.FunctionName,
        arn: `arn:aws:lambda:${account.region}:${account.account}:function:${props.FunctionName}`,
        role,
        timeoutSeconds: Number(props.Timeout ?? 3),
        memorySize: Number(props.MemorySize ?? 128),
        handlerFile: join(dir, file),
        handlerExport: exported,
        environment: variables,
      });
    }
  }

  /**
   * Each function's ReservedConcurrentExecutions, as CloudFormation sets them (PutFunctionConcurrency):
   * all or nothing — one the account refuses rolls the deploy back, keeping what was reserved before.
   */
  private reserve(template: Template, account: Account): void {
    const functions = resourcesOfType(template, account, 'AWS::Lambda::Function').map(([, props]) => props);
    const before = new Map(this.options.account.reserved);
    try {
      for (const props of functions) this.options.account.release(String(props.FunctionName));
      for (const props of functions)
        if (props.ReservedConcurrentExecutions !== undefined)
          this.options.account.reserve(String(props.FunctionName), Number(props.ReservedConcurrentExecutions));
    } catch (error) {
      this.options.account.reserved.clear();
      for (const [name, count] of before) this.options.account.reserved.set(name, count);
      throw error;
    }
  }

  /**
   * Sets variables (and the timeout) of a deployed function, as a user does in serverless.yml before
   * a deploy: its warm environments end, new ones start with them. Returns the undo.
   */
  configure(key: string, variables: Record<string, string>, timeoutSeconds?: number): () => void {
    const fn = this.find(key);
    const before = { environment: { ...fn.environment }, timeoutSeconds: fn.timeoutSeconds };
    const apply = (settings: typeof before) => {
      Object.assign(fn, settings);
      for (const warm of this.warm.get(fn.name) ?? []) stop(warm.process);
      this.warm.set(fn.name, []);
    };
    apply({ environment: { ...fn.environment, ...variables }, timeoutSeconds: timeoutSeconds ?? fn.timeoutSeconds });
    return () => apply(before);
  }

  /** A function by name, ARN or key. */
  find(nameOrArn: string): DeployedFunction {
    const name = nameOrArn.replace(/^arn:aws:lambda:[^:]+:\d+:function:/, '');
    const found = this.functions.get(name) ?? [...this.functions.values()].find((f) => f.key === name);
    if (!found) throw new InvocationError('ResourceNotFoundException', `Function not found: ${nameOrArn}`);
    return found;
  }

  private start(fn: DeployedFunction): Environment {
    const { accessKeyId, secretAccessKey } = roleCredentials(fn.role);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...this.options.lambdaEnvironment,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(fn.timeoutSeconds),
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      LAMBDA_TASK_ROOT: join(fn.handlerFile, '..'),
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      ...fn.environment,
    };
    // The template's NODE_OPTIONS, with the rehearsal's hosts mapping before it.
    env.NODE_OPTIONS = `--require ${HOSTS} ${fn.environment.NODE_OPTIONS ?? ''}`.trim();
    const child = fork(RUNTIME, [fn.handlerFile, fn.handlerExport], {
      execPath: lambdaNode(),
      env,
      cwd: join(fn.handlerFile, '..'),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // A sandbox of its own: when Lambda ends one, whatever the function started (ffmpeg) ends with it.
      detached: true,
    });
    // What the function writes goes to its log group, a line an event, as CloudWatch Logs keeps it.
    for (const stream of [child.stdout, child.stderr]) {
      let tail = '';
      stream?.on('data', (chunk: Buffer) => {
        const lines = (tail + chunk.toString('utf8')).split('\n');
        tail = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) this.logs.push({ function: fn.key, line });
      });
    }
    this.all.add(child);
    child.once('exit', () => this.all.delete(child));
    const ready = new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new InvocationError('Runtime.ExitError', `the runtime exited (${code}) before it was ready`)));
    });
    return { process: child, ready };
  }

  /**
   * Invokes a function with an event; resolves with its result, rejects with an InvocationError.
   * A streaming function's response bytes go to `onChunk` as it writes them.
   */
  async invoke(nameOrArn: string, event: unknown, onChunk?: (chunk: Buffer) => void): Promise<unknown> {
    const fn = this.find(nameOrArn);
    // What Invoke answers (HTTP 429) when the function's reservation, or the account's unreserved
    // concurrency, is in use.
    if (!this.options.account.start(fn.name)) throw new InvocationError('TooManyRequestsException', 'Rate Exceeded.', [], true);
    try {
      return await this.invokeWarm(fn, event, onChunk);
    } finally {
      this.options.account.end(fn.name);
    }
  }

  private async invokeWarm(fn: DeployedFunction, event: unknown, onChunk?: (chunk: Buffer) => void): Promise<unknown> {
    const pool = this.warm.get(fn.name) ?? [];
    this.warm.set(fn.name, pool);
    const environment = pool.pop() ?? this.start(fn);
    this.running++;
    try {
      return await this.run(fn, environment, pool, event, onChunk);
    } finally {
      this.running--;
      if (this.running === 0) for (const resolve of this.waiting.splice(0)) resolve();
    }
  }

  /** Resolves when no invocation runs. */
  idle(): Promise<void> {
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  private async run(
    fn: DeployedFunction,
    environment: Environment,
    pool: Environment[],
    event: unknown,
    onChunk?: (chunk: Buffer) => void,
  ): Promise<unknown> {
    await environment.ready;
    const id = ++this.invocations;
    const { process: child } = environment;
    const answer = await new Promise<{ result?: unknown; error?: { errorType: string; errorMessage: string; trace?: string[] } }>(
      (resolve) => {
        const timer = setTimeout(() => {
          stop(child);
          settle({
            error: { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds` },
          });
        }, fn.timeoutSeconds * 1000);
        const settle = (answer: { result?: unknown; error?: { errorType: string; errorMessage: string } }) => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(answer);
        };
        const onMessage = (message: { id?: number; chunk?: string; result?: unknown; error?: never }) => {
          if (message.id !== id) return;
          if (message.chunk !== undefined) onChunk?.(Buffer.from(message.chunk, 'base64'));
          else settle(message);
        };
        const onExit = (code: number | null, signal: string | null) =>
          settle({ error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${id} Error: Runtime exited (${code ?? signal})` } });
        child.on('message', onMessage);
        child.on('exit', onExit);
        child.send({ id, event });
      },
    );
    if (child.connected && child.exitCode === null) pool.push(environment);
    if (answer.error) throw new InvocationError(answer.error.errorType, answer.error.errorMessage, answer.error.trace);
    return answer.result;
  }

  async close(): Promise<void> {
    for (const child of this.all) stop(child);
    this.warm.clear();
  }
}

/** Ends an environment's process and everything it started, as Lambda ends a sandbox. */
function stop(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL'); // its group has already gone
  }
}

function splitHandler(handler: string): [file: string, exported: string] {
  const dot = handler.lastIndexOf('.');
  return [`${handler.slice(0, dot)}.js`, handler.slice(dot + 1)];
}
