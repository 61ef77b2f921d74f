// Lambda entry for one iteration of the PackageSegments Map.
import { environmentPorts } from '../../src/adapters/environment';
import { packageBatch } from './step';

export const handler = (event: unknown) => packageBatch(event, environmentPorts());
