/**
 * Facts about GPT-2's vocabulary that the loader, the generator and the page share (no imports,
 * so the page can use them without the tokenizer's tables).
 */

/** Ids GPT-2's tokenizer (r50k_base) produces: 0 … 50256, where 50256 is <|endoftext|>. */
export const GPT2_VOCAB_SIZE = 50257;

/**
 * What a person is told, once, about a checkpoint whose embedding has more rows than the
 * tokenizer has tokens (nanoGPT pads 50257 to 50304 for speed): the extra ids are never sampled.
 * null when the vocabulary is not padded.
 */
export function paddedVocabularyNote(vocabSize: number): string | null {
  if (vocabSize <= GPT2_VOCAB_SIZE) return null;
  const padding = vocabSize - GPT2_VOCAB_SIZE;
  return (
    `This model's vocabulary is padded to ${vocabSize} (GPT-2's tokenizer has ${GPT2_VOCAB_SIZE} tokens): ` +
    `the ${padding} extra ${padding === 1 ? 'id' : 'ids'} (${GPT2_VOCAB_SIZE}${padding === 1 ? '' : `–${vocabSize - 1}`}) stand for no text and are never sampled.`
  );
}
