// What deploy/stack.js reads from the composition when serverless.yml is compiled: the variables
// each deployed function needs (its ports' and its step's own) and what its step does through its
// ports (its role's grants), so the template gives every function exactly those and nothing is
// typed twice.
import { PORT_VARIABLES } from './backends/aws';
import type { SettingName } from './settings';
import type { PortName } from '../ports';
import type { Access } from '../steps/entry';
import { FUNCTION_KEYS, STEPS, type FunctionKey, type StepEntry } from './steps';

export function functionVariables(): Record<FunctionKey, SettingName[]> {
  return Object.fromEntries(
    FUNCTION_KEYS.map((key) => {
      const step = STEPS[key];
      const names = new Set<SettingName>([...step.ports.flatMap((port) => PORT_VARIABLES[port]), ...step.variables]);
      return [key, [...names].sort()];
    }),
  ) as Record<FunctionKey, SettingName[]>;
}

/** What a function's step does through its ports, and what invokes it: its role's grants (deploy/stack.js). */
export interface FunctionAccess {
  access: Access;
  invokedBy: StepEntry<unknown, unknown, PortName>['invokedBy'];
}

export function functionAccess(): Record<FunctionKey, FunctionAccess> {
  return Object.fromEntries(FUNCTION_KEYS.map((key) => [key, { access: STEPS[key].access, invokedBy: STEPS[key].invokedBy }])) as Record<
    FunctionKey,
    FunctionAccess
  >;
}

/** Functions whose step uses media: they carry the ffmpeg layer. */
export function functionsWithMedia(): FunctionKey[] {
  return FUNCTION_KEYS.filter((key) => (STEPS[key].ports as readonly string[]).includes('media'));
}

/** The stack output that lets the CLI check it holds the stage's video id secret (see naming.ts). */
export { videoIdSecretCheck } from '../core/naming';
