/**
 * Per-token log-probability records in OpenAI's `logprobs` shape (`token`, `logprob`, `bytes`,
 * `top_logprobs`), with GPT-2's `id` beside them, from a generation's TokenInspection: the chosen
 * token's log-probability under the raw model (log softmax of the logits, no processor applied)
 * and the `top` likeliest alternatives at that step. The CLI's `generate --json --top-logprobs N`
 * and the page's Export write the same records.
 */
import type { TokenInspection } from './generate';

export interface TopLogprob {
  /** GPT-2's token id (not in OpenAI's shape; kept so a record can be fed back to the model). */
  id: number;
  /** The token's text (pieceText: a piece of a multi-byte character is written as `\xE2\x80`). */
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes: several tokens' bytes join into one character where a piece is not text alone. */
  bytes: number[];
}

export interface TokenLogprobs extends TopLogprob {
  /** The `top` likeliest tokens at this step, most likely first. */
  top_logprobs: TopLogprob[];
}

/** The largest number of alternatives a record lists (the summary's top logits). */
export const MAX_TOP_LOGPROBS = 256;

const strict = new TextDecoder('utf-8', { fatal: true });

/** A token's bytes as text: the UTF-8 they spell, or `\xNN` per byte where they are only a piece of a character. */
export function pieceText(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    return Array.from(bytes, (b) => `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
}

function record(id: number, logprob: number, bytesOf: (id: number) => Uint8Array): TopLogprob {
  const bytes = bytesOf(id);
  return { id, token: pieceText(bytes), logprob, bytes: Array.from(bytes) };
}

/** `tokenId`'s record at the step `inspection` describes; `bytesOf` gives a token's bytes (tokenizer/tokenBytes). */
export function tokenLogprobs(
  tokenId: number,
  inspection: TokenInspection,
  top: number,
  bytesOf: (id: number) => Uint8Array,
): TokenLogprobs {
  const { logits } = inspection;
  const count = Math.min(top, logits.top);
  const top_logprobs: TopLogprob[] = [];
  for (let i = 0; i < count; i++) top_logprobs.push(record(logits.ids[i], logits.logits[i] - logits.logSumExp, bytesOf));
  return { ...record(tokenId, inspection.logprob, bytesOf), top_logprobs };
}
