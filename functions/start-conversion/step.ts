// start-conversion: an upload to the input bucket starts one ConvertVideo execution, named after
// the video id and the object's version, so a redelivered S3 event starts nothing new.
import { DEFAULT_OPTIONS, type ConversionOptions, type ExecutionInput } from '../../src/core/model';
import { executionNameFor, extensionOf, revisionFor, SUPPORTED_EXTENSIONS, videoIdFor } from '../../src/core/naming';
import type { ExecutionStarter } from '../../src/adapters/aws/executions';

export interface StartConversionPorts {
  executions: ExecutionStarter;
  log?: (line: string) => void;
}

interface S3Record {
  s3?: { object?: { key?: string; versionId?: string; eTag?: string; sequencer?: string; size?: number } };
}

/** S3 event keys are URL-encoded with `+` for spaces (the form encoding): "My+clip%C3%A9.mp4". */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/**
 * The execution for one upload of a key: named after the video id and a revision of the upload's
 * version and the options, so the S3 trigger and `lambda-hls convert --stage` agree on the name.
 */
export function conversionFor(key: string, version: string, options: ConversionOptions = DEFAULT_OPTIONS) {
  const input: ExecutionInput = { source: { key }, revision: revisionFor(version, options), options };
  return { input, executionName: executionNameFor(videoIdFor(key), input.revision) };
}

export interface StartOutcome {
  key: string;
  result: 'started' | 'exists' | 'ignored';
  executionName?: string;
  reason?: string;
}

export async function startConversion(event: unknown, ports: StartConversionPorts): Promise<StartOutcome[]> {
  const records = ((event as { Records?: S3Record[] } | null)?.Records ?? []) as S3Record[];
  const outcomes: StartOutcome[] = [];
  for (const record of records) {
    const object = record.s3?.object;
    if (!object?.key) continue;
    let key: string;
    try {
      key = decodeS3Key(object.key);
    } catch {
      outcomes.push({ key: object.key, result: 'ignored', reason: 'the key is not valid URL encoding' });
      continue;
    }
    const ext = extensionOf(key);
    if (!(SUPPORTED_EXTENSIONS as readonly string[]).includes(ext)) {
      outcomes.push({ key, result: 'ignored', reason: `extension ${ext || '(none)'} is not .mp4 or .mp3` });
      continue;
    }
    // The version id (versioned bucket) or the ETag names this upload of the key.
    const version = object.versionId ?? object.eTag ?? object.sequencer ?? 'unversioned';
    const { input, executionName } = conversionFor(key, version);
    const result = await ports.executions.start(executionName, input);
    outcomes.push({ key, result, executionName });
  }
  for (const o of outcomes) ports.log?.(`${o.result} ${JSON.stringify(o.key)}${o.executionName ? ` as ${o.executionName}` : ''}${o.reason ? `: ${o.reason}` : ''}`);
  return outcomes;
}
