// Lambda entry for the makeCaptions function: its step's entry (src/steps/make-captions.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { makeCaptionsStep } from '../../src/steps/make-captions';

export const handler = lambdaHandler('makeCaptions', makeCaptionsStep);
