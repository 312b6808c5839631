/** GPT-2's byte-level BPE (r50k_base), via gpt-tokenizer. */
import { decode as decodeR50k, encode as encodeR50k } from 'gpt-tokenizer/encoding/r50k_base';

export const EOS_TOKEN_ID = 50256;
const EOS_TEXT = '<|endoftext|>';

/**
 * Text → token ids, with `<|endoftext|>` read as the special token 50256 (as Hugging Face does).
 * We split on it ourselves: gpt-tokenizer 4.0.0 only recognises an allowed special token at the
 * start of the text or right after another one. Each piece is encoded independently, exactly
 * as tiktoken does around special tokens.
 */
export function encode(text: string): number[] {
  const ids: number[] = [];
  text.split(EOS_TEXT).forEach((piece, i) => {
    if (i > 0) ids.push(EOS_TOKEN_ID);
    if (piece) ids.push(...encodeR50k(piece));
  });
  return ids;
}

/** Token ids → text. Ids that end mid-character decode to U+FFFD; stream with StreamDecoder instead. */
export function decode(ids: number[]): string {
  return decodeR50k(ids);
}
