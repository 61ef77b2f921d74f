// Lambda entry for the segmentMedia function: its step's entry (src/steps/segment-media.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { segmentMediaStep } from '../../src/steps/segment-media';

export const handler = lambdaHandler('segmentMedia', segmentMediaStep);
