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

/**
 * How many tokens the model reads for `prompt` (an empty prompt: 1, <|endoftext|>), counted on
 * this thread with the tokenizer; null until it has loaded, and while `wanted` is false: its
 * chunk is loaded only when first wanted (building its tables is one long task).
 */
export function usePromptTokenCount(prompt: string, wanted: boolean): number | null {
  const [counted, setCounted] = useState<{ prompt: string; count: number } | null>(null);
  useEffect(() => {
    if (!wanted) return;
    let live = true;
    import('../tokenizer/tokenizer').then(
      ({ encode }) => live && setCounted({ prompt, count: Math.max(1, encode(prompt).length) }),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [prompt, wanted]);
  return wanted && counted?.prompt === prompt ? counted.count : null;
}

/** The most tokens `prompt` can be (every GPT-2 token is at least one UTF-8 byte; an empty prompt is <|endoftext|>). */
export function promptTokensAtMost(prompt: string): number {
  return Math.max(1, new TextEncoder().encode(prompt).length);
}

/** id → the token's bytes once the vocabulary has loaded (null until then). */
export function useTokenBytes(): ((id: number) => Uint8Array) | null {
  const [bytes, setBytes] = useState<((id: number) => Uint8Array) | null>(null);
  useEffect(() => {
    let live = true;
    loadTokenBytes().then(
      (loaded) => live && setBytes(() => loaded),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);
  return bytes;
}

/**
 * `prompt` split where the model began reading it, when it read only `readIds` (the prompt's last
 * tokens: the first ones did not fit in the context with the new tokens); null when it read all of
 * it. Counted in bytes, so a character split between a left-out token and a read one shows as
 * U+FFFD on both sides.
 */
export function droppedPrompt(
  prompt: string,
  readIds: readonly number[],
  bytesOf: (id: number) => Uint8Array,
): { dropped: string; read: string } | null {
  const all = new TextEncoder().encode(prompt);
  const read = readIds.reduce((n, id) => n + bytesOf(id).length, 0);
  if (read >= all.length) return null;
  const decoder = new TextDecoder();
  return { dropped: decoder.decode(all.subarray(0, all.length - read)), read: decoder.decode(all.subarray(all.length - read)) };
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
