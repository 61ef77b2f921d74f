// Lambda entry for one iteration of the PackageSegments Map.
import { environmentPorts } from '../../src/adapters/environment';
import { packageSegment } from './step';

export const handler = (event: unknown) => packageSegment(event, environmentPorts());
