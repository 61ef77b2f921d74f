// Lambda entry for the joinChunks function: its step's entry (src/steps/join-chunks.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { joinChunksStep } from '../../src/steps/join-chunks';

export const handler = lambdaHandler('joinChunks', joinChunksStep);
