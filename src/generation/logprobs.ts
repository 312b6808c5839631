/**
 * Per-token log-probability records in OpenAI's `logprobs` shape, from a generation's
 * TokenInspection: the chosen token's log-probability under the raw model (log softmax of the
 * logits, no processor applied) and the `top` likeliest alternatives at that step. The CLI's
 * `generate --json --top-logprobs N` and the page's Export write the same records.
 */
import type { TokenInspection } from './generate';

export interface TopLogprob {
  id: number;
  /** The token's own text (a piece of a multi-byte character decodes to U+FFFD). */
  text: string;
  logprob: number;
}

export interface TokenLogprobs extends TopLogprob {
  /** The `top` likeliest tokens at this step, most likely first. */
  top_logprobs: TopLogprob[];
}

/** The largest number of alternatives a record lists (the summary's top logits). */
export const MAX_TOP_LOGPROBS = 256;

export function tokenLogprobs(tokenId: number, inspection: TokenInspection, top: number, textOf: (id: number) => string): TokenLogprobs {
  const { logits } = inspection;
  const count = Math.min(top, logits.top);
  const top_logprobs: TopLogprob[] = [];
  for (let i = 0; i < count; i++) {
    top_logprobs.push({ id: logits.ids[i], text: textOf(logits.ids[i]), logprob: logits.logits[i] - logits.logSumExp });
  }
  return { id: tokenId, text: textOf(tokenId), logprob: inspection.logprob, top_logprobs };
}
