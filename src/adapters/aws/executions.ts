// Step Functions: starting ConvertVideo executions under deterministic names, finding them again,
// and reading their whole history (every page).
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  paginateGetExecutionHistory,
  paginateListExecutions,
  StartExecutionCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { oneLineCause } from '../../core/errors';
import type { ExecutionStatus } from '../../core/history';
import { retryThrottled, type RetryOptions } from '../../core/retry';
import { attemptName, parseExecutionName } from '../../core/naming';
import type { ExecutionStarter } from '../../ports';

export interface ExecutionDescription {
  name: string;
  status: ExecutionStatus | 'PENDING_REDRIVE';
  startedAt: string;
  stoppedAt?: string;
  input: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
}

function parse(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class StepFunctionsExecutions implements ExecutionStarter {
  constructor(
    private readonly sfn: SFNClient,
    readonly stateMachineArn: string,
    private readonly retry?: RetryOptions,
  ) {}

  /** arn:…:stateMachine:<machine> → arn:…:execution:<machine>:<name> */
  executionArn(name: string): string {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  }

  async start(name: string, input: unknown): Promise<'started' | 'exists'> {
    try {
      await retryThrottled(
        () => this.sfn.send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) })),
        this.retry,
      );
      return 'started';
    } catch (error) {
      // Same name and same input within 90 days is idempotent in Standard workflows; a different
      // input under the same name is refused with this error. Either way the video is under way.
      if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') return 'exists';
      throw error;
    }
  }

  async status(name: string): Promise<ExecutionDescription['status'] | undefined> {
    return (await this.describe(name))?.status;
  }

  /** undefined when there is no execution of that name. */
  async describe(name: string): Promise<ExecutionDescription | undefined> {
    try {
      const out = await retryThrottled(
        () => this.sfn.send(new DescribeExecutionCommand({ executionArn: this.executionArn(name) })),
        this.retry,
      );
      return {
        name: out.name ?? name,
        status: (out.status ?? 'RUNNING') as ExecutionDescription['status'],
        startedAt: (out.startDate ?? new Date(0)).toISOString(),
        ...(out.stopDate && { stoppedAt: out.stopDate.toISOString() }),
        input: parse(out.input),
        ...(out.output !== undefined && { output: parse(out.output) }),
        ...(out.error !== undefined && { error: out.error }),
        ...(out.cause !== undefined && { cause: oneLineCause(out.cause) }),
      };
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') return undefined;
      throw error;
    }
  }

  /** The last attempt of a conversion (`<name>`, `<name>-2`, …) that exists, with its number. */
  async newestAttempt(base: string): Promise<{ attempt: number; description: ExecutionDescription } | undefined> {
    let newest: { attempt: number; description: ExecutionDescription } | undefined;
    for (let attempt = 1; ; attempt++) {
      const description = await this.describe(attemptName(base, attempt));
      if (!description) return newest;
      newest = { attempt, description };
    }
  }

  /** The newest execution whose name is `<videoId>-<revision>` (newest first is ListExecutions' order). */
  async latestFor(videoId: string): Promise<string | undefined> {
    for await (const page of paginateListExecutions({ client: this.sfn, pageSize: 1000 }, { stateMachineArn: this.stateMachineArn })) {
      const found = page.executions?.find((e) => e.name && parseExecutionName(e.name)?.videoId === videoId);
      if (found?.name) return found.name;
    }
    return undefined;
  }

  /** Names of the executions still running. */
  async running(): Promise<string[]> {
    const names: string[] = [];
    for await (const page of paginateListExecutions(
      { client: this.sfn, pageSize: 1000 },
      { stateMachineArn: this.stateMachineArn, statusFilter: 'RUNNING' },
    )) {
      for (const e of page.executions ?? []) if (e.name) names.push(e.name);
    }
    return names;
  }

  /**
   * Every event of an execution after event `afterId` (0: all), oldest first, over as many pages
   * as it takes. Read newest first and stopped at `afterId`, so following a long run does not
   * re-read its whole history on every poll.
   */
  async history(name: string, afterId = 0): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    for await (const page of paginateGetExecutionHistory(
      { client: this.sfn, pageSize: 1000 },
      { executionArn: this.executionArn(name), includeExecutionData: true, reverseOrder: true },
    )) {
      const fresh = (page.events ?? []).filter((e) => (e.id ?? 0) > afterId);
      events.push(...fresh);
      if (fresh.length < (page.events ?? []).length) break;
    }
    return events.reverse();
  }
}
