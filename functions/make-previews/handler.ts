// Lambda entry for the makePreviews function: its step's entry (src/steps/make-previews.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { makePreviewsStep } from '../../src/steps/make-previews';

export const handler = lambdaHandler('makePreviews', makePreviewsStep);
