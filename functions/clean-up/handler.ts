// Lambda entry for the cleanUp function: its step's entry (src/steps/clean-up.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { cleanUpStep } from '../../src/steps/clean-up';

export const handler = lambdaHandler('cleanUp', cleanUpStep);
