import { describe, expect, it } from 'vitest';
import { decode, encode, EOS_TOKEN_ID } from '../../src/tokenizer';
import { fixtureExpected } from '../helpers/fixture';

describe('tokenizer (r50k_base)', () => {
  it('gives the Hugging Face ids for the fixture texts, and decodes them back', () => {
    for (const { text, ids } of fixtureExpected().tokenizer) {
      expect(encode(text)).toEqual(ids);
      expect(decode(ids)).toBe(text);
    }
  });

  it('reads <|endoftext|> as the special token anywhere in the text', () => {
    expect(EOS_TOKEN_ID).toBe(50256);
    expect(encode('<|endoftext|>')).toEqual([50256]);
    expect(encode('Holmes<|endoftext|>Watson')).toEqual([...encode('Holmes'), 50256, ...encode('Watson')]);
    expect(encode('a<|endoftext|><|endoftext|> b')).toEqual([...encode('a'), 50256, 50256, ...encode(' b')]);
    expect(decode(encode('x<|endoftext|>y'))).toBe('x<|endoftext|>y');
  });

  it('decodes each call on its own: a character cut at the end is U+FFFD, never carried into the next call', () => {
    const emoji = encode('😀');
    expect(emoji.length).toBeGreaterThan(1);
    expect(decode(emoji.slice(0, -1))).toBe('\uFFFD');
    expect(decode(emoji.slice(-1))).toBe('\uFFFD');
    expect(decode(emoji)).toBe('😀');
  });

  it('encodes the empty string to no tokens', () => {
    expect(encode('')).toEqual([]);
  });
});
