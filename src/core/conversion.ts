// The execution that converts one upload: its input and its name.
import { DEFAULT_OPTIONS, type ConversionOptions, type ExecutionInput, type Upload } from './model';
import { executionNameFor, revisionFor, videoIdFor, type VideoIdScheme } from './naming';

/**
 * The execution for one upload of a key: named after the video id and a revision of the upload's
 * version (and, from the S3 trigger, its sequencer) and the options.
 */
export function conversionFor(
  key: string,
  version: string,
  options: ConversionOptions = DEFAULT_OPTIONS,
  scheme: VideoIdScheme = {},
  upload?: Upload,
) {
  // Each upload is its own revision: the same bytes uploaded again (after a delete, or after
  // another upload replaced them) are built anew, never the published revision rebuilt.
  const revision = revisionFor(upload ? `${version} ${upload.sequencer}` : version, options);
  const input: ExecutionInput = { source: { key }, revision, options, ...(upload && { upload }) };
  return { input, executionName: executionNameFor(videoIdFor(key, scheme), input.revision) };
}
