// Lambda entry for the computeOffsets function: its step's entry (src/steps/compute-offsets.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { computeOffsetsStep } from '../../src/steps/compute-offsets';

export const handler = lambdaHandler('computeOffsets', computeOffsetsStep);
