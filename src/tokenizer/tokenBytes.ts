/**
 * GPT-2's vocabulary pieces alone (r50k_base's bytes, via gpt-tokenizer), without the encoder: what
 * turning ids back into bytes needs. The page loads just this to show token texts.
 */
import byteLevelVocabulary from 'gpt-tokenizer/bpeRanks/r50k_base';

export const EOS_TOKEN_ID = 50256;
export const EOS_TEXT = '<|endoftext|>';
const utf8 = new TextEncoder();

/** The bytes one token stands for (r50k_base stores valid UTF-8 pieces as strings, the rest as bytes). */
export function tokenBytes(id: number): Uint8Array {
  if (id === EOS_TOKEN_ID) return utf8.encode(EOS_TEXT);
  const entry = Number.isInteger(id) ? byteLevelVocabulary[id] : undefined;
  if (entry === undefined) throw new RangeError(`token id ${id} is not in the GPT-2 vocabulary`);
  return typeof entry === 'string' ? utf8.encode(entry) : Uint8Array.from(entry);
}
