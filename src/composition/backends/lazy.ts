// Ports built on first use: a deployed function that never probes media never loads ffmpeg, one
// that never starts executions never creates a Step Functions client.

/** An object whose every property is built by its function the first time it is read, then kept. */
export function lazily<T extends object>(builders: { [K in keyof T]: () => T[K] }): T {
  const built: Partial<T> = {};
  const target = {} as T;
  for (const key of Object.keys(builders) as (keyof T)[]) {
    Object.defineProperty(target, key, {
      enumerable: true,
      get: () => {
        if (!(key in built)) built[key] = builders[key]();
        return built[key];
      },
    });
  }
  return target;
}

/** A backend that cannot be built as configured (a deployed function missing a variable of its stack). */
export class BackendUnavailable extends Error {
  override readonly name = 'BackendUnavailable' as const;
}
