/** Writing a command's result to stdout: large JSON in pieces, numbers as short as float32 allows. */
import { once } from 'node:events';

/** Writes to stdout, waiting when the pipe is full, so a long result never piles up in memory. */
export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

/** A float32 value as the shortest decimal that reads back to the same float32 (9 significant digits always do). */
export function float32(value: number): number {
  return Number(value.toPrecision(9));
}

/** A token's text for tables: quoted, with escapes (spaces and newlines stay visible). */
export function quoted(text: string): string {
  return JSON.stringify(text);
}
