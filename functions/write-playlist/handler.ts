// Lambda entry for WritePlaylist.
import { environmentPorts } from '../../src/adapters/environment';
import { writePlaylist } from './step';

export const handler = (event: unknown) => writePlaylist(event, environmentPorts());
