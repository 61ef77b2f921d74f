// Lambda entry for ValidateInput: the step does the work; errors keep their names for the ASL.
import { environmentPorts } from '../../src/adapters/environment';
import { validateInput } from './step';

export const handler = (event: unknown) => validateInput(event, environmentPorts());
