// start-conversion: an upload to the input bucket starts one ConvertVideo execution, named after
// the video id and the upload (the object's version and the event's sequencer), so a redelivered
// S3 event starts nothing new, even after its run failed; each new upload of the key, the same
// bytes included (after a delete, or after another upload replaced them), is converted anew.
import { CAPTION_EXTENSIONS } from '../core/captions';
import { conversionFor } from '../core/conversion';
import { extensionOf, isSupportedKey } from '../core/naming';
import type { Ports } from '../ports';
import type { StartOutcome } from '../core/upload-outcome';

export type { StartOutcome } from '../core/upload-outcome';
export { describeOutcome } from '../core/upload-outcome';
import { startExecutionAttempt } from '../start-execution';
import { entry } from './entry';

export type StartConversionPorts = Pick<Ports, 'executions'>;

/** One created object of an S3 event notification, its key still URL-encoded as S3 sends it. */
export interface CreatedObject {
  key: string;
  /** The version id (versioned bucket), else the ETag. */
  version: string;
  /** The event's sequencer: which upload of the key this is, and in what order it came. */
  sequencer?: string;
  /** S3's `eventName` (`ObjectCreated:Put`, `ObjectRemoved:Delete`…), where the record has one. */
  eventName?: string;
}

interface S3Record {
  eventName?: unknown;
  s3?: { object?: { key?: unknown; versionId?: unknown; eTag?: unknown; sequencer?: unknown } };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

/** Never refuses: records without an object key are not uploads and are skipped. */
export function parseS3Event(event: unknown): CreatedObject[] {
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records)) return [];
  return (records as S3Record[]).flatMap((record) => {
    const object = record?.s3?.object;
    const key = text(object?.key);
    if (!key) return [];
    const eventName = text(record.eventName);
    const version = text(object?.versionId) ?? text(object?.eTag) ?? 'unversioned';
    const sequencer = text(object?.sequencer);
    return [{ key, version, ...(sequencer && /^[0-9A-Fa-f]{1,64}$/.test(sequencer) && { sequencer }), ...(eventName && { eventName }) }];
  });
}

/** S3 event keys are URL-encoded with `+` for spaces (the form encoding): "My+clip%C3%A9.mp4". */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

export interface StartConversionSettings {
  /** Mixed into video ids, and so into execution names (LAMBDA_HLS_VIDEO_ID_SECRET). */
  videoIdSecret?: string;
  /** The segment functions' prefix: it bounds the video id's length. */
  functionPrefix?: string;
}

export async function startConversion(
  objects: CreatedObject[],
  ports: StartConversionPorts,
  settings: StartConversionSettings = {},
): Promise<StartOutcome[]> {
  const outcomes: StartOutcome[] = [];
  for (const object of objects) {
    let key: string;
    try {
      key = decodeS3Key(object.key);
    } catch {
      outcomes.push({ key: object.key, result: 'ignored', reason: 'the key is not valid URL encoding' });
      continue;
    }
    // The bucket notifies creations only; a notification widened by hand (deletes, restores, tags) starts nothing.
    if (object.eventName !== undefined && !object.eventName.startsWith('ObjectCreated:')) {
      outcomes.push({ key, result: 'ignored', reason: `${object.eventName} is not an upload` });
      continue;
    }
    if (!isSupportedKey(key)) {
      const ext = extensionOf(key);
      // A caption file is read by its video's conversion (ValidateInput lists the files beside it).
      const reason = CAPTION_EXTENSIONS[ext]
        ? 'a caption file: it is added when the video beside it is converted (upload it first; one uploaded after its video is not added yet)'
        : `extension ${ext || '(none)'} is not .mp4 or .mp3`;
      outcomes.push({ key, result: 'ignored', reason });
      continue;
    }
    const scheme = { secret: settings.videoIdSecret, functionPrefix: settings.functionPrefix };
    const upload = object.sequencer ? { sequencer: object.sequencer } : undefined;
    const conversion = conversionFor(key, object.version, undefined, scheme, upload);
    if (upload) {
      // This upload's own execution: one that exists is this event's, delivered again. Whatever it
      // came to, it is not run again (a failed upload is retried by uploading it again).
      const result = await ports.executions.start(conversion.executionName, conversion.input);
      outcomes.push({ key, result, executionName: conversion.executionName });
    } else {
      // No sequencer (an event not from S3 itself): named by the version alone, so a failed run is attempted again.
      const { result, executionName } = await startExecutionAttempt(ports.executions, conversion.executionName, conversion.input);
      outcomes.push({ key, result, executionName });
    }
  }
  return outcomes;
}

/** startConversion's entry in the step table. */
export const startConversionStep = entry({
  invokedBy: 'input bucket',
  ports: ['executions'],
  variables: ['LAMBDA_HLS_FUNCTION_PREFIX', 'LAMBDA_HLS_VIDEO_ID_SECRET'],
  // Start a conversion; when its name is taken, see whether that attempt failed (then the next
  // attempt, <name>-2, is started: the same file uploaded again after a failed run converts).
  access: { executions: ['start', 'describe'] },
  parse: parseS3Event,
  // What became of each upload goes into the invocation's log line (src/composition/invocation-log.ts).
  run: (objects, ports, settings) => startConversion(objects, ports, settings),
});
