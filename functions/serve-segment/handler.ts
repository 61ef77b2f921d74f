// Lambda entry for the serveSegment function: its step's entry (src/steps/serve-segment.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { serveSegmentStep } from '../../src/steps/serve-segment';

export const handler = lambdaHandler('serveSegment', serveSegmentStep);
