// Lambda entry for the encodeChunk function: its step's entry (src/steps/encode-chunk.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { encodeChunkStep } from '../../src/steps/encode-chunk';

export const handler = lambdaHandler('encodeChunk', encodeChunkStep);
