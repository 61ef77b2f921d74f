// Runs statemachines/convert-video.asl.yml in-process with aws-local-stepfunctions, each Task
// bound by state name to a local function. Nothing here can reach AWS: a Task without a binding
// refuses to start, and the engine only ever gets fake credentials.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// The engine and the YAML parser are loaded when a run needs them, not when the CLI starts
// (`--version`, `list`, `history` never do): together they bring ~200 modules, the AWS SDK among them.
import type { StateMachine } from 'aws-local-stepfunctions';

// aws-local-stepfunctions 3 declares Node ≥ 22 and calls Promise.withResolvers when a Task runs;
// on Node 20 every Task would fail with a TypeError that a States.ALL retry hides. Provide it.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

/** An engine event (the package does not export the type itself). */

/**
 * A step's error as Lambda reports it to Step Functions: its name the Error, its message the Cause.
 * The engine takes an error's `cause` for the Cause when it has one, but our errors carry there the
 * error they were made from (an errno, an SDK error), which Lambda never sends: the message stays.
 */
function asReportedByLambda(error: unknown): unknown {
  if (!(error instanceof Error) || error.cause === undefined) return error;
  const reported = new Error(error.message);
  reported.name = error.name;
  return reported;
}

export type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export const DEFAULT_ASL_PATH = join(__dirname, '..', 'statemachines', 'convert-video.asl.yml');

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type TaskHandler = (input: JsonValue) => Promise<unknown>;

export interface TaskState {
  state: string;
  /** The serverless function key in `Fn::GetAtt: [key, Arn]`. */
  functionKey: string;
  /** Where the function's result goes in the state's output: a JSONPath, or undefined for the whole output. */
  resultIn: string | undefined;
}

export interface LoadedDefinition {
  definition: Record<string, unknown>;
  tasks: TaskState[];
  /** Every state, those inside the Map included. */
  stateNames: string[];
  /** Wait states that lead to CleanUp: they give AWS's stragglers time; locally they need none. */
  waitsBeforeCleanUp: string[];
}

const LOCAL_ACCOUNT_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:lambda-hls-local-';

/**
 * Reads the ASL file and turns each Task's `Fn::GetAtt: [key, Arn]` (what serverless-step-functions
 * resolves at deploy time) into a placeholder ARN, returning which function each Task names.
 */
export function loadDefinition(path = DEFAULT_ASL_PATH): LoadedDefinition {
  const { parse: parseYaml } = require('yaml') as typeof import('yaml');
  const definition = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const tasks: TaskState[] = [];
  const stateNames: string[] = [];
  const waitsBeforeCleanUp: string[] = [];
  const visit = (states: unknown) => {
    for (const [name, state] of Object.entries((states ?? {}) as Record<string, Record<string, unknown>>)) {
      stateNames.push(name);
      if (state.Type === 'Wait' && state.Next === 'CleanUp') waitsBeforeCleanUp.push(name);
      if (state.Type === 'Task') {
        const resource = state.Resource as { 'Fn::GetAtt'?: unknown } | string;
        const getAtt = typeof resource === 'object' ? resource['Fn::GetAtt'] : undefined;
        if (!Array.isArray(getAtt) || typeof getAtt[0] !== 'string' || getAtt[1] !== 'Arn') {
          throw new Error(`Task ${name}: Resource must be Fn::GetAtt: [<function key>, Arn]`);
        }
        // With OutputPath equal to ResultPath the state's output is the result itself.
        const resultPath = state.ResultPath as string | undefined;
        const resultIn = resultPath === undefined || resultPath === '$' || state.OutputPath === resultPath ? undefined : resultPath;
        tasks.push({ state: name, functionKey: getAtt[0], resultIn });
        state.Resource = `${LOCAL_ACCOUNT_ARN}${getAtt[0]}`;
      }
      const processor = (state.ItemProcessor ?? state.Iterator) as { States?: unknown } | undefined;
      if (processor) visit(processor.States);
    }
  };
  visit(definition.States);
  return { definition, tasks, stateNames, waitsBeforeCleanUp };
}

export interface RunOptions {
  loaded: LoadedDefinition;
  /** Handlers by function key (`validateInput`, …): every Task must find one. */
  handlers: Record<string, TaskHandler>;
  input: JsonValue;
  onEvent?: (event: EventLog) => void;
  /** Milliseconds to wait before each retry instead of the ASL's (tests pass 0). */
  retryDelayMs?: number;
  /**
   * Validate the definition before running (~170 ms). Off by default: the ASL file ships with the
   * tool, is validated by its tests and by serverless-step-functions at package time.
   */
  validate?: boolean;
  /** Aborts the execution (Ctrl-C): it ends ABORTED once the Tasks in flight have settled. */
  signal?: AbortSignal;
  /** The execution's name, as `$$.Execution.Name` gives it to the states (ValidateInput passes it on). */
  executionName?: string;
}

export interface RunResult {
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  output?: unknown;
  events: EventLog[];
}

export class UnboundTask extends Error {
  override readonly name = 'UnboundTask' as const;
}

export async function runStateMachine(options: RunOptions): Promise<RunResult> {
  const { loaded, handlers } = options;
  const unbound = loaded.tasks.filter((t) => !handlers[t.functionKey]);
  if (unbound.length > 0) {
    throw new UnboundTask(
      `refusing to run: Task ${unbound.map((t) => `${t.state} (${t.functionKey})`).join(', ')} has no local binding and would call AWS`,
    );
  }
  // Every Task in flight, so CleanUp can wait for stragglers (a Map keeps running iterations
  // after one fails) and then delete everything they made.
  const inFlight = new Set<Promise<unknown>>();
  const settleOthers = async () => {
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  };
  const taskResourceLocalHandlers: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const task of loaded.tasks) {
    const handler = handlers[task.functionKey]!;
    const isCleanUp = task.state === 'CleanUp';
    taskResourceLocalHandlers[task.state] = async (input) => {
      if (isCleanUp) await settleOthers();
      const run = handler(input);
      if (!isCleanUp) {
        inFlight.add(run);
        void run.finally(() => inFlight.delete(run)).catch(() => undefined);
      }
      try {
        return toJson(await run);
      } catch (error) {
        throw asReportedByLambda(error);
      }
    };
  }
  if (options.retryDelayMs !== undefined) {
    for (const name of loaded.stateNames) retryIntervalOverrides[name] = options.retryDelayMs;
  }

  const { StateMachine: Engine } = require('aws-local-stepfunctions') as typeof import('aws-local-stepfunctions');
  const machine: StateMachine = new Engine(loaded.definition as never, {
    validationOptions: options.validate ? { checkArn: true, checkPaths: true } : { noValidate: true },
    awsConfig: {
      region: 'us-east-1',
      credentials: { accessKeys: { accessKeyId: 'LOCALONLY', secretAccessKey: 'LOCALONLY' } },
    },
  });
  // CleanUp itself waits for every Task in flight (settleOthers), so the wait for stragglers is 0.
  const waitTimeOverrides = Object.fromEntries(loaded.waitsBeforeCleanUp.map((name) => [name, 0]));
  const execution = machine.run(options.input, {
    overrides: { taskResourceLocalHandlers, retryIntervalOverrides, waitTimeOverrides },
    context: { Execution: { Name: options.executionName ?? 'local' } },
  });
  const events: EventLog[] = [];
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event);
      options.onEvent?.(event);
    }
  })();
  const abort = () => execution.abort();
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  let status: RunResult['status'] = 'SUCCEEDED';
  let output: unknown;
  try {
    output = await execution.result;
  } catch {
    status = options.signal?.aborted ? 'ABORTED' : 'FAILED';
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  await collecting;
  await settleOthers();
  return { status, output, events };
}

/** Task results must be plain JSON for the engine. */
function toJson(value: unknown): JsonValue {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as JsonValue);
}
