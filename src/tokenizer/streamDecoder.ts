/**
 * Token-by-token decoding that never splits a character.
 *
 * GPT-2 tokens are byte sequences, and one character (an emoji, a CJK ideograph, an accented
 * letter) may be spread over several tokens. Decoding each token alone would show U+FFFD for
 * the pieces; instead the bytes of every token go through one streaming UTF-8 decoder, which
 * holds back an incomplete trailing character until its last byte arrives.
 *
 * Each StreamDecoder owns its TextDecoder: gpt-tokenizer's own decode() shares one streaming
 * decoder between all calls, so interleaved sequences would mix their pending bytes.
 */
import byteLevelVocabulary from 'gpt-tokenizer/bpeRanks/r50k_base';
import { EOS_TOKEN_ID } from './tokenizer';

const EOS_TEXT = '<|endoftext|>';
const utf8 = new TextEncoder();

/** The bytes one token stands for (r50k_base stores valid UTF-8 pieces as strings, the rest as bytes). */
export function tokenBytes(id: number): Uint8Array {
  if (id === EOS_TOKEN_ID) return utf8.encode(EOS_TEXT);
  const entry = Number.isInteger(id) ? byteLevelVocabulary[id] : undefined;
  if (entry === undefined) throw new RangeError(`token id ${id} is not in the GPT-2 vocabulary`);
  return typeof entry === 'string' ? utf8.encode(entry) : Uint8Array.from(entry);
}

export class StreamDecoder {
  private decoder = new TextDecoder('utf-8');

  /** The text this token completes: '' while a character is still incomplete. */
  push(id: number): string {
    return this.decoder.decode(tokenBytes(id), { stream: true });
  }

  /** Ends the stream: bytes of a character that never completed come out as U+FFFD. */
  flush(): string {
    const rest = this.decoder.decode();
    this.decoder = new TextDecoder('utf-8');
    return rest;
  }
}
