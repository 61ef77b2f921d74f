// Lambda entry for the registerRoute function: its step's entry (src/steps/register-route.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { registerRouteStep } from '../../src/steps/register-route';

export const handler = lambdaHandler('registerRoute', registerRouteStep);
