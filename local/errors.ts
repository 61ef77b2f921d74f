// A command that cannot do what was asked as asked (no such file, options an upload cannot
// take): the CLI prints the message and exits 2.
export class CliError extends Error {
  override readonly name = 'CliError' as const;
}
