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
import { tokenBytes } from './tokenizer';

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
