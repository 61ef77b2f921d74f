// Lambda entry for RegisterRoute.
import { environmentPorts } from '../../src/adapters/environment';
import { registerRoute } from './step';

export const handler = (event: unknown) => registerRoute(event, environmentPorts());
