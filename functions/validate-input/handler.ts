// Lambda entry for the validateInput function: its step's entry (src/steps/validate-input.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { validateInputStep } from '../../src/steps/validate-input';

export const handler = lambdaHandler('validateInput', validateInputStep);
