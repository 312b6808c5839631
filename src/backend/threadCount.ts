/**
 * The thread count a person can ask for (`?threads=` on the page, `--threads` in the CLI), read
 * without tfjs so the page can check it (wasmThreads.ts applies it in the worker).
 */

/** Most threads `?threads=` and `--threads` accept. */
export const MAX_THREADS = 64;

/** `?threads=` / `--threads` text → a thread count, or why it is not one (the allowed range). */
export function parseThreads(text: string): { threads: number } | { problem: string } {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    return { problem: `threads must be a whole number from 1 to ${MAX_THREADS}, got '${text}'` };
  }
  return { threads: n };
}
