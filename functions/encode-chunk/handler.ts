// Lambda entry for the encodeChunk function: its step, as the step table (src/composition/steps.ts) wires it.
import { lambdaHandler } from '../../src/composition/lambda';

export const handler = lambdaHandler('encodeChunk');
