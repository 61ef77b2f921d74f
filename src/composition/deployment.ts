// What deploy/stack.js reads from the composition when serverless.yml is compiled: the variables
// each deployed function needs (its ports' and its step's own), so the template gives every
// function exactly those and nothing is typed twice.
import { PORT_VARIABLES } from './backends/aws';
import type { SettingName } from './settings';
import { FUNCTION_KEYS, STEPS, type FunctionKey } from './steps';

export function functionVariables(): Record<FunctionKey, SettingName[]> {
  return Object.fromEntries(
    FUNCTION_KEYS.map((key) => {
      const step = STEPS[key];
      const names = new Set<SettingName>([...step.ports.flatMap((port) => PORT_VARIABLES[port]), ...step.variables]);
      return [key, [...names].sort()];
    }),
  ) as Record<FunctionKey, SettingName[]>;
}

/** Functions whose step uses media: they carry the ffmpeg layer. */
export function functionsWithMedia(): FunctionKey[] {
  return FUNCTION_KEYS.filter((key) => (STEPS[key].ports as readonly string[]).includes('media'));
}

/** The stack output that lets the CLI check it holds the stage's video id secret (see naming.ts). */
export { videoIdSecretCheck } from '../core/naming';
