/** GPT-2's byte-level BPE (r50k_base), via gpt-tokenizer. */
import { encode as encodeR50k } from 'gpt-tokenizer/encoding/r50k_base';
import { EOS_TEXT, EOS_TOKEN_ID, tokenBytes } from './tokenBytes';

export { EOS_TOKEN_ID, tokenBytes };

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

/**
 * Token ids → text. Bytes that end mid-character decode to U+FFFD (stream with StreamDecoder to
 * hold them back instead). A fresh TextDecoder per call: gpt-tokenizer's own decode() shares one
 * streaming decoder between calls, so a split character would leak into the next call's text.
 */
export function decode(ids: number[]): string {
  const pieces = ids.map(tokenBytes);
  const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    bytes.set(piece, offset);
    offset += piece.length;
  }
  return new TextDecoder('utf-8').decode(bytes);
}
