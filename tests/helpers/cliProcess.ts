/** The CLI run as a separate process (tsx), as a person would run it: for e2e checks against the page. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './fixture';

const run = promisify(execFile);

/** `npm run cli -- <args>`; resolves with stdout, rejects with the process error (stderr included). */
export async function cliOutput(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), 'src/cli/main.ts', ...args], {
    cwd: repoRoot,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}
