import { statSync } from 'node:fs';

// A command that cannot do what was asked as asked (no such file, options an upload cannot
// take): the CLI prints the message and exits 2.
export class CliError extends Error {
  override readonly name = 'CliError' as const;
}

/** Why a name given on the command line is not a file to convert, or undefined when it is one. */
export function notAFile(file: string): string | undefined {
  try {
    return statSync(file).isFile() ? undefined : `${file}: not a regular file`;
  } catch {
    return `${file}: no such file`;
  }
}

/** Throws the CliError for a name that is not a file to convert. */
export function checkIsFile(file: string): void {
  const why = notAFile(file);
  if (why) throw new CliError(why);
}
