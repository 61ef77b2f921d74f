// Lambda entry for the startConversion function: its step's entry (src/steps/start-conversion.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { startConversionStep } from '../../src/steps/start-conversion';

export const handler = lambdaHandler('startConversion', startConversionStep);
