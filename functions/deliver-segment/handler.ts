// Lambda entry for the deliverSegment function: its step's entry (src/steps/deliver-segment.ts), and only that step.
import { streamingHandler } from '../../src/composition/lambda';
import { deliverSegmentStep } from '../../src/steps/deliver-segment';

export const handler = streamingHandler('deliverSegment', deliverSegmentStep);
