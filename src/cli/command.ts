/** What a CLI subcommand is: a name, a line of help, and a run function returning the exit code. */
export interface CliCommand {
  name: string;
  /** One line for `--help`. */
  summary: string;
  /** Runs with the arguments after the command name; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** Wrong or missing arguments: main prints the message and the usage, and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}
