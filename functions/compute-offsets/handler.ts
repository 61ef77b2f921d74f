// Lambda entry for ComputeOffsets.
import { environmentPorts } from '../../src/adapters/environment';
import { computeOffsets } from './step';

export const handler = (event: unknown) => computeOffsets(event, environmentPorts());
