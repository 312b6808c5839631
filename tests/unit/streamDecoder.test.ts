import { describe, expect, it } from 'vitest';
import { decode, encode, EOS_TOKEN_ID } from '../../src/tokenizer/tokenizer';
import { StreamDecoder } from '../../src/tokenizer/streamDecoder';
import { tokenBytes } from '../../src/tokenizer/tokenizer';
import { fixtureExpected } from '../helpers/fixture';

function streamAll(ids: number[]): string[] {
  const decoder = new StreamDecoder();
  const deltas = ids.map((id) => decoder.push(id));
  deltas.push(decoder.flush());
  return deltas;
}

describe('StreamDecoder', () => {
  it('reassembles every fixture text exactly, token by token, without U+FFFD', () => {
    for (const { text, ids } of fixtureExpected().tokenizer) {
      const deltas = streamAll(ids);
      expect(deltas.join('')).toBe(text);
      for (const delta of deltas) expect(delta).not.toContain('\uFFFD');
    }
  });

  it('emits a character split over several tokens whole, once its last byte arrives', () => {
    const text = 'Café 😀 日本語 naïve';
    const ids = encode(text);
    const deltas = streamAll(ids);
    expect(deltas.join('')).toBe(text);
    // The emoji takes more than one token here; exactly one delta carries it, and it is whole.
    const withEmoji = deltas.filter((d) => d.includes('😀'));
    expect(withEmoji).toHaveLength(1);
    expect(deltas.some((d) => d === '')).toBe(true); // an incomplete piece was held back
    for (const d of deltas) {
      expect(d).not.toContain('\uFFFD');
      // No delta ends in a lone high surrogate (half an emoji).
      expect(/[\uD800-\uDBFF]$/.test(d)).toBe(false);
    }
  });

  it('matches decode() for complete texts and the byte concatenation of the tokens', () => {
    const text = 'Holmes — “élémentaire” 🕵️‍♂️ 探偵';
    const ids = encode(text);
    expect(streamAll(ids).join('')).toBe(decode(ids));
    const bytes = ids.flatMap((id) => [...tokenBytes(id)]);
    expect(new TextDecoder().decode(Uint8Array.from(bytes))).toBe(text);
  });

  it('keeps interleaved sequences apart (each decoder has its own pending bytes)', () => {
    const a = encode('😀😀');
    const b = encode('日本');
    const da = new StreamDecoder();
    const db = new StreamDecoder();
    let outA = '';
    let outB = '';
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i < a.length) outA += da.push(a[i]);
      if (i < b.length) outB += db.push(b[i]);
    }
    expect(outA + da.flush()).toBe('😀😀');
    expect(outB + db.flush()).toBe('日本');
  });

  it('flushes an unfinished character as U+FFFD and decodes <|endoftext|>', () => {
    const emoji = encode('😀');
    expect(emoji.length).toBeGreaterThan(1);
    const d = new StreamDecoder();
    expect(d.push(emoji[0])).toBe('');
    expect(d.flush()).toBe('\uFFFD');
    expect(d.push(EOS_TOKEN_ID)).toBe('<|endoftext|>');
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => tokenBytes(50257)).toThrow(/not in the GPT-2 vocabulary/);
    expect(() => tokenBytes(-1)).toThrow(/not in the GPT-2 vocabulary/);
  });
});
