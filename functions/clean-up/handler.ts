// Lambda entry for CleanUp.
import { environmentPorts } from '../../src/adapters/environment';
import { cleanUp } from './step';

export const handler = (event: unknown) => cleanUp(event, environmentPorts());
