/**
 * Thrown for any checkpoint that cannot be loaded: broken files, wrong shapes, configs that are
 * not GPT-2. The message names the file, the tensor (when there is one) and expected vs found,
 * so it can be shown to a person as-is.
 */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';

  constructor(message: string) {
    super(message);
  }
}

/** Prefixes a message with the file it is about, when known: `model.safetensors: ...`. */
export function inFile(file: string | undefined, message: string): string {
  return file ? `${file}: ${message}` : message;
}
