// Lambda entry for the deliverSegment function (a function URL with response streaming): its step,
// as the step table (src/composition/steps.ts) wires it.
import { streamingHandler } from '../../src/composition/lambda';

export const handler = streamingHandler('deliverSegment');
