// A Lambda entry is one line: `export const handler = lambdaHandler('validateInput')`. The event
// is parsed first (a malformed one is refused before anything is built), then the step runs on
// the aws backend, whose ports are built on first use and kept for the container's life.
import type { Ports } from '../ports';
import { awsBackend } from './backends/aws';
import { settings } from './settings';
import { runStep, type FunctionKey } from './steps';

let backend: Ports | undefined;

export function lambdaHandler(key: FunctionKey): (event: unknown) => Promise<unknown> {
  return async (event) => {
    backend ??= awsBackend(settings());
    return runStep(key, event, backend, settings());
  };
}
