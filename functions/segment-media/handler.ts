// Lambda entry for SegmentMedia (needs the ffmpeg layer).
import { environmentPorts } from '../../src/adapters/environment';
import { segmentMedia } from './step';

export const handler = (event: unknown) => segmentMedia(event, environmentPorts());
