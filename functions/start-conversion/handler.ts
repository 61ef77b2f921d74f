// Lambda entry for start-conversion, triggered by s3:ObjectCreated:* on the input bucket.
import { SFNClient } from '@aws-sdk/client-sfn';
import { StepFunctionsExecutions } from '../../src/adapters/aws/executions';
import { startConversion } from './step';

// Created once per cold start; region and endpoint come from the environment.
const executions = new StepFunctionsExecutions(new SFNClient({}), process.env.STATE_MACHINE_ARN ?? '');

export const handler = (event: unknown) => startConversion(event, { executions, log: (line) => console.log(line) });
