// Emulated Step Functions (JSON 1.0 protocol, from the API reference): the stack's state machine
// as the template compiles it (its DefinitionString, Fn::Sub resolved to the functions' ARNs), run
// on aws-local-stepfunctions with each Task invoking that function's bundle; StartExecution (with
// ExecutionAlreadyExists), DescribeExecution, GetExecutionHistory (AWS-shaped events, paged, either
// order) and ListExecutions.
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { StateMachine } from 'aws-local-stepfunctions';
import '../../../cli/engine'; // its Promise.withResolvers polyfill, for Node 20
import type { InvocationError } from './functions';
import { accessKeyOf, type Iam } from './iam';

type Status = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

interface Execution {
  name: string;
  arn: string;
  machineArn: string;
  status: Status;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate?: Date;
  events: HistoryEvent[];
  done: Promise<void>;
}

export interface StepFunctionsEmulator {
  endpoint: string;
  executions: Map<string, Execution>;
  /** Resolves once every execution started so far has ended. */
  settled(): Promise<void>;
  /** Step Functions out of service for StartExecution (HTTP 503) until the returned function is called: an outage a test makes. */
  refuseStarts(): () => void;
  close(): Promise<void>;
}

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: engine events are untyped here, read by shape
type EngineEvent = any;

/**
 * Writes the engine's events as AWS records them: TaskStateEntered, LambdaFunctionScheduled and
 * -Started, -Succeeded or -Failed per attempt, TaskStateExited; MapStateEntered, -Started,
 * MapIteration*, MapStateSucceeded or -Failed, -Exited; each event pointing at the one it follows
 * (inside an iteration, at that iteration's last event).
 */
function historyWriter(resources: Map<string, string>) {
  const events: HistoryEvent[] = [];
  let top = 0;
  const lanes = new Map<number, number>();
  let lastIterationEnd = 0;
  const add = (type: string, previous: number, details: Record<string, unknown> = {}) => {
    const id = events.length + 1;
    events.push({ id, previousEventId: previous, type: type as HistoryEvent['type'], timestamp: new Date(), ...details } as HistoryEvent);
    return id;
  };
  const write = (e: EngineEvent): void => {
    const index: number | undefined = typeof e.index === 'number' ? e.index : undefined;
    const inIteration = index !== undefined && !String(e.type).startsWith('MapIteration');
    const previous = () => (inIteration ? (lanes.get(index) ?? top) : top);
    const chain = (id: number) => {
      if (inIteration) lanes.set(index, id);
      else top = id;
    };
    const state = e.state as { name: string; type: string; input?: unknown; output?: unknown } | undefined;
    const kind = state?.type ?? '';
    switch (e.type) {
      case 'ExecutionStarted':
        top = add('ExecutionStarted', 0, { executionStartedEventDetails: { input: JSON.stringify(e.input) } });
        return;
      case 'StateEntered': {
        let id = add(`${kind}StateEntered`, previous(), {
          stateEnteredEventDetails: { name: state!.name, input: JSON.stringify(state!.input) },
        });
        if (kind === 'Task') {
          id = add('LambdaFunctionScheduled', id, {
            lambdaFunctionScheduledEventDetails: { resource: resources.get(state!.name), input: JSON.stringify(state!.input) },
          });
          id = add('LambdaFunctionStarted', id);
        }
        if (kind === 'Map') id = add('MapStateStarted', id);
        chain(id);
        return;
      }
      case 'StateRetried': {
        let id = add('LambdaFunctionScheduled', previous(), {
          lambdaFunctionScheduledEventDetails: { resource: resources.get(state!.name) },
        });
        id = add('LambdaFunctionStarted', id);
        chain(id);
        return;
      }
      case 'StateFailed':
        if (kind === 'Task')
          chain(add('LambdaFunctionFailed', previous(), { lambdaFunctionFailedEventDetails: { error: e.Error, cause: e.Cause } }));
        if (kind === 'Map') top = add('MapStateFailed', lastIterationEnd || top);
        return;
      case 'StateCaught':
        return; // the state's Exited follows
      case 'StateExited': {
        const output = JSON.stringify(state!.output);
        let id = previous();
        const events_ = events[id - 1];
        if (kind === 'Task' && events_?.type === 'LambdaFunctionStarted')
          id = add('LambdaFunctionSucceeded', id, { lambdaFunctionSucceededEventDetails: { output } });
        if (kind === 'Map' && events[top - 1]?.type !== 'MapStateFailed') id = add('MapStateSucceeded', lastIterationEnd || top);
        if (kind === 'Map') id = Math.max(id, top);
        chain(add(`${kind}StateExited`, id, { stateExitedEventDetails: { name: state!.name, output } }));
        return;
      }
      case 'MapIterationStarted':
        lanes.set(index!, add('MapIterationStarted', top, { mapIterationStartedEventDetails: { name: e.parentState?.name, index } }));
        return;
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const kindOf = e.type === 'MapIterationSucceeded' ? 'Succeeded' : 'Failed';
        lastIterationEnd = add(e.type, lanes.get(index!) ?? top, {
          [`mapIteration${kindOf}EventDetails`]: { name: e.parentState?.name, index },
        });
        lanes.set(index!, lastIterationEnd);
        return;
      }
      case 'ExecutionSucceeded':
        add('ExecutionSucceeded', top, { executionSucceededEventDetails: { output: JSON.stringify(e.output) } });
        return;
      case 'ExecutionFailed':
        add('ExecutionFailed', top, { executionFailedEventDetails: { error: e.Error, cause: e.Cause } });
        return;
      default:
        return;
    }
  };
  return { events, write };
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return parts.length ? (JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>) : {};
}

function page<T>(items: T[], input: Record<string, unknown>, fallback = 100): { items: T[]; nextToken?: string } {
  const start = Number(input.nextToken ?? 0);
  const size = Number(input.maxResults || fallback);
  const next = start + size < items.length ? String(start + size) : undefined;
  return { items: items.slice(start, start + size), ...(next && { nextToken: next }) };
}

export async function startStepFunctions(options: {
  region: string;
  account: string;
  /** The state machine as compiled: its ARN and its definition with resources resolved. */
  machine: { arn: string; definition: string };
  /** Invokes a function by ARN (the rehearsal's function runner). */
  invoke(arn: string, input: unknown): Promise<unknown>;
  /** Waits until no invocation runs: what the ASL's Wait before CleanUp gives stragglers in AWS. */
  idle(): Promise<void>;
  /** Evaluates each call (and the state machine role's invocations) against the template's policies. */
  iam?: Iam;
  /** The access key standing for the state machine's role. */
  machineRoleKey?: string;
}): Promise<StepFunctionsEmulator> {
  const executions = new Map<string, Execution>();
  const definition = JSON.parse(options.machine.definition) as { States: Record<string, EngineEvent> };
  const tasks = new Map<string, string>();
  const waitsBeforeCleanUp: string[] = [];
  const visit = (states: Record<string, EngineEvent>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') tasks.set(name, state.Resource);
      if (state.Type === 'Wait' && state.Next === 'CleanUp') waitsBeforeCleanUp.push(name);
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
    }
  };
  visit(definition.States);
  const machineName = options.machine.arn.split(':').pop()!;

  function run(execution: Execution): Promise<void> {
    const writer = historyWriter(tasks);
    execution.events = writer.events;
    const handlers = Object.fromEntries(
      [...tasks].map(([state, arn]) => [
        state,
        async (input: unknown) => {
          if (state === 'CleanUp') await options.idle();
          if (options.iam && !(await options.iam.allows(options.machineRoleKey ?? '', 'lambda:InvokeFunction', arn))) {
            throw Object.assign(new Error(`the state machine's role may not invoke ${arn}`), { name: 'Lambda.AWSLambdaException' });
          }
          try {
            return (await options.invoke(arn, input)) ?? null;
          } catch (error) {
            // What Step Functions makes of a Lambda error: its type as Error, the runtime's report as Cause.
            const e = error as InvocationError;
            // A throttled Invoke never ran the function: Step Functions names it Lambda.<the service's error>.
            if (e.byService) throw Object.assign(new Error(e.errorMessage), { name: `Lambda.${e.errorType}` });
            throw Object.assign(new Error(JSON.stringify({ errorType: e.errorType, errorMessage: e.errorMessage, trace: e.trace })), {
              name: e.errorType,
            });
          }
        },
      ]),
    );
    const machine = new StateMachine(definition as never, {
      validationOptions: { noValidate: true },
      awsConfig: { region: options.region, credentials: { accessKeys: { accessKeyId: 'REHEARSAL', secretAccessKey: 'REHEARSAL' } } },
    });
    const started = machine.run(JSON.parse(execution.input), {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        // The Wait gives Map stragglers time in AWS; here CleanUp waits until no invocation runs.
        waitTimeOverrides: Object.fromEntries(waitsBeforeCleanUp.map((name) => [name, 0])),
      },
      context: { Execution: { Id: execution.arn, Name: execution.name } },
    });
    const collecting = (async () => {
      for await (const event of started.eventLogs) writer.write(event);
    })();
    return started.result.then(
      async (output: unknown) => {
        await collecting;
        Object.assign(execution, { status: 'SUCCEEDED', output: JSON.stringify(output), stopDate: new Date() });
      },
      async () => {
        await collecting;
        const failed = [...writer.events].reverse().find((e) => e.type === 'ExecutionFailed');
        Object.assign(execution, {
          status: 'FAILED',
          error: failed?.executionFailedEventDetails?.error,
          cause: failed?.executionFailedEventDetails?.cause,
          stopDate: new Date(),
        });
      },
    );
  }

  const describe = (e: Execution) => ({
    executionArn: e.arn,
    stateMachineArn: e.machineArn,
    name: e.name,
    status: e.status,
    startDate: e.startDate.getTime() / 1000,
    ...(e.stopDate && { stopDate: e.stopDate.getTime() / 1000 }),
    input: e.input,
    ...(e.output !== undefined && { output: e.output }),
    ...(e.error !== undefined && { error: e.error }),
    ...(e.cause !== undefined && { cause: e.cause }),
  });

  /** StartExecution's input: at most 256 KiB of UTF-8 (the API's length constraint). */
  const MAX_INPUT_BYTES = 262_144;
  const byArn = (arn: unknown) => {
    const found = [...executions.values()].find((e) => e.arn === arn);
    if (!found) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(arn)}'`);
    return found;
  };

  let refusingStarts = false;
  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    StartExecution(input) {
      if (refusingStarts) throw new ApiError('ServiceUnavailable', 'Service Unavailable', 503);
      if (input.stateMachineArn !== options.machine.arn)
        throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(input.stateMachineArn)}'`);
      // Without a name, Step Functions makes one (a UUID).
      const name = input.name === undefined ? randomUUID() : String(input.name);
      const text = String(input.input ?? '{}');
      // What AWS refuses at StartExecution, before any execution exists (the state limit cannot be caught later).
      if (Buffer.byteLength(text) > MAX_INPUT_BYTES) {
        throw new ApiError(
          'ValidationException',
          `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_INPUT_BYTES}`,
        );
      }
      try {
        JSON.parse(text);
      } catch {
        throw new ApiError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${text.slice(0, 80)}'`);
      }
      const controls = [...name].some((c) => c.charCodeAt(0) <= 0x1f || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f));
      if (controls || !/^[^\s<>{}[\]?*"#%\\^|~`$&,;:/]{1,80}$/.test(name)) {
        throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
      }
      const existing = executions.get(name);
      if (existing) {
        // Standard workflows: the same name and input of a running execution is the same start.
        if (existing.status === 'RUNNING' && existing.input === text)
          return { executionArn: existing.arn, startDate: existing.startDate.getTime() / 1000 };
        throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${existing.arn}'`);
      }
      const execution: Execution = {
        name,
        arn: `arn:aws:states:${options.region}:${options.account}:execution:${machineName}:${name}`,
        machineArn: options.machine.arn,
        status: 'RUNNING',
        input: text,
        startDate: new Date(),
        events: [],
        done: Promise.resolve(),
      };
      executions.set(name, execution);
      execution.done = run(execution);
      return { executionArn: execution.arn, startDate: execution.startDate.getTime() / 1000 };
    },
    DescribeExecution: (input) => describe(byArn(input.executionArn)),
    GetExecutionHistory(input) {
      const execution = byArn(input.executionArn);
      const ordered = input.reverseOrder ? [...execution.events].reverse() : execution.events;
      const { items, nextToken } = page(ordered, input, 1000);
      const events = items.map((e) => ({ ...e, timestamp: (e.timestamp as Date).getTime() / 1000 }));
      return { events, ...(nextToken && { nextToken }) };
    },
    ListExecutions(input) {
      const all = [...executions.values()]
        .filter((e) => !input.statusFilter || e.status === input.statusFilter)
        .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
      const { items, nextToken } = page(all, input);
      return { executions: items.map((e) => describe(e)), ...(nextToken && { nextToken }) };
    },
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
    body(req)
      .then(async (input) => {
        const handler = operations[operation];
        if (!handler) throw new ApiError('UnknownOperationException', `${operation} is not emulated`);
        const accessKeyId = accessKeyOf(req.headers, new URLSearchParams()) ?? 'anonymous';
        const resource = String(input.executionArn ?? input.stateMachineArn ?? '*');
        if (options.iam && !(await options.iam.allows(accessKeyId, `states:${operation}`, resource))) {
          throw new ApiError(
            'AccessDeniedException',
            `User: ${options.iam.principalOf(accessKeyId)} is not authorized to perform: states:${operation} on resource: ${resource}`,
          );
        }
        return handler(input);
      })
      .then(
        (out) => {
          res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify(out));
        },
        (error: Error) => {
          const type = error instanceof ApiError ? error.type : 'InternalServerError';
          res.writeHead(error instanceof ApiError ? error.status : 500, { 'Content-Type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify({ __type: `com.amazonaws.states#${type}`, message: error.message }));
        },
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://states.localhost:${port}`,
    executions,
    settled: async () => {
      await Promise.all([...executions.values()].map((e) => e.done));
    },
    refuseStarts() {
      refusingStarts = true;
      return () => {
        refusingStarts = false;
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
