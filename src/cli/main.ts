/**
 * The command-line interface on the same engine as the app: `npm run cli -- <command> [options]`.
 * A small dispatcher: each command lives in ./commands and is listed in ./commands/index.ts.
 * Errors end as one line on stderr and a non-zero exit code, never a stack trace.
 */
import { pathToFileURL } from 'node:url';
import { UsageError, type CliCommand } from './command';
import { COMMANDS } from './commands';
import { idleTimeoutSeconds } from './modelArg';
import { errorMessage } from '../util/errorMessage';

function help(commands: CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: npm run cli -- <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run a command with --help for its options.',
  ].join('\n');
}

/** One line, whatever the error carried. */
function oneLine(error: unknown): string {
  const message = errorMessage(error);
  return message.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}

/**
 * Flags every command takes, passed on as environment variables (read in src/cli/modelArg.ts):
 * `--hub-url URL` becomes GPT2_HUB_URL (for hf: models), `--idle-timeout S` GPT2_IDLE_TIMEOUT.
 */
const GLOBAL_FLAGS: Record<string, string> = { '--hub-url': 'GPT2_HUB_URL', '--idle-timeout': 'GPT2_IDLE_TIMEOUT' };

function takeGlobalFlags(args: string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const variable = GLOBAL_FLAGS[flag];
    if (!variable) rest.push(args[i]);
    else process.env[variable] = inline ?? args[++i] ?? '';
  }
  return rest;
}

export async function main(argv: string[], commands: CliCommand[] = COMMANDS): Promise<number> {
  const [name, ...rest] = takeGlobalFlags(argv);
  if (argv.some((a) => a === '--idle-timeout' || a.startsWith('--idle-timeout='))) {
    try {
      idleTimeoutSeconds(process.env.GPT2_IDLE_TIMEOUT ?? '', '--idle-timeout');
    } catch (error) {
      console.error(`error: ${oneLine(error)}`);
      return 2;
    }
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help(commands));
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`error: unknown command '${name}' (commands: ${commands.map((c) => c.name).join(', ')})`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    try {
      await command.run(['--help']);
    } catch (error) {
      console.log(error instanceof UsageError ? error.usage : command.summary);
    }
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    console.error(`error: ${oneLine(error)}`);
    if (error instanceof UsageError) {
      console.error(error.usage);
      return 2;
    }
    if (process.env.GPT2_CLI_DEBUG && error instanceof Error) console.error(error.stack);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `... | head` closes stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`error: ${oneLine(error)}`);
      process.exitCode = 1;
    },
  );
}
