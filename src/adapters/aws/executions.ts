// Step Functions: starting ConvertVideo executions under deterministic names.
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { retryThrottled, type RetryOptions } from './retry';

export interface ExecutionStarter {
  /** 'exists' when an execution of that name was already started (a redelivered event). */
  start(name: string, input: unknown): Promise<'started' | 'exists'>;
}

export class StepFunctionsStarter implements ExecutionStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
    private readonly retry?: RetryOptions,
  ) {}

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
}
