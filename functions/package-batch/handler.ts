// Lambda entry for the packageBatch function: its step's entry (src/steps/package-batch.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { packageBatchStep } from '../../src/steps/package-batch';

export const handler = lambdaHandler('packageBatch', packageBatchStep);
