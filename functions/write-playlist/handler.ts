// Lambda entry for the writePlaylist function: its step's entry (src/steps/write-playlist.ts), and only that step.
import { lambdaHandler } from '../../src/composition/lambda';
import { writePlaylistStep } from '../../src/steps/write-playlist';

export const handler = lambdaHandler('writePlaylist', writePlaylistStep);
