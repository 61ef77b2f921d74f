// start-conversion: an upload to the input bucket starts one ConvertVideo execution, named after
// the video id and the object's version, so a redelivered S3 event starts nothing new.
import { conversionFor } from '../../src/core/model';
import { extensionOf, isSupportedKey } from '../../src/core/naming';
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
    if (!isSupportedKey(key)) {
      const ext = extensionOf(key);
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
