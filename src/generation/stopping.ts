/**
 * When a sequence is done: it produced the end-of-text token, its text reached a stop string,
 * or it used up its new-token budget. Checked after every token, per sequence.
 */

export type FinishReason = 'length' | 'eos' | 'stop' | 'abort';

export class StoppingCriteria {
  private readonly longestStop: number;

  constructor(
    readonly maxNewTokens: number,
    readonly eosTokenId: number | null,
    readonly stopStrings: readonly string[],
  ) {
    this.longestStop = Math.max(0, ...stopStrings.map((s) => s.length));
  }

  isEos(tokenId: number): boolean {
    return tokenId === this.eosTokenId;
  }

  /**
   * Like HF's StopStringCriteria: a stop string counts once it ends inside the newest token's text
   * (it may start in earlier tokens). `previousLength` is the text length before that token.
   */
  hitsStopString(text: string, previousLength: number): boolean {
    if (this.longestStop === 0 || text.length === previousLength) return false;
    const from = Math.max(0, previousLength - this.longestStop + 1);
    const window = text.slice(from);
    return this.stopStrings.some((stop) => {
      const at = window.lastIndexOf(stop);
      return at >= 0 && from + at + stop.length > previousLength;
    });
  }

  /** Why the sequence ends after this token, or null if it goes on. */
  check(tokenId: number, generatedCount: number, text: string, previousLength: number): FinishReason | null {
    if (this.isEos(tokenId)) return 'eos';
    if (this.hitsStopString(text, previousLength)) return 'stop';
    if (generatedCount >= this.maxNewTokens) return 'length';
    return null;
  }
}
