/**
 * Token texts for the page: the vocabulary is loaded on demand (its own chunk, ~0.5 MB, not in the
 * page's first script), and each token's text is shown with its whitespace made visible.
 */
import { useEffect, useState } from 'react';
import { pieceText } from '../generation/logprobs';

/** id → the token's own text (a piece of a multi-byte character shows as its bytes, e.g. `\xE2\x80`). */
export type TokenTexts = (id: number) => string;

let loading: Promise<TokenTexts> | null = null;

export function loadTokenTexts(): Promise<TokenTexts> {
  loading ??= loadTokenBytes().then((tokenBytes) => {
    const cache = new Map<number, string>();
    return (id: number) => {
      let text = cache.get(id);
      if (text === undefined) {
        text = pieceText(tokenBytes(id));
        cache.set(id, text);
      }
      return text;
    };
  });
  return loading;
}

/** id → the token's bytes (the vocabulary's chunk, loaded on first use). */
export function loadTokenBytes(): Promise<(id: number) => Uint8Array> {
  return import('../tokenizer/tokenBytes').then(({ tokenBytes }) => tokenBytes);
}

/** The vocabulary once it has loaded (null until then); starts loading on first use. */
export function useTokenTexts(): TokenTexts | null {
  const [texts, setTexts] = useState<TokenTexts | null>(null);
  useEffect(() => {
    let live = true;
    loadTokenTexts().then(
      (loaded) => live && setTexts(() => loaded),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);
  return texts;
}

const VISIBLE: Record<string, string> = { ' ': '␣', '\n': '↵', '\t': '⇥', '\r': '␍' };

/** Whitespace made visible, so a token's leading space or newline can be seen: " the" → "␣the". */
export function visibleText(text: string): string {
  return text.replace(/[ \n\t\r]/g, (c) => VISIBLE[c]);
}
