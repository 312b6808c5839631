/**
 * Compare strategies: the generation lesson's sequence of decoding strategies (greedy, beam
 * search, beam search with an n-gram block, top-k, top-p, temperature), each as a run's options
 * built on the page's length and seed, and the measures its pane shows (mean log-probability,
 * perplexity, repeated n-grams). Pure.
 */
import { optionSpec } from '../generation/optionSpecs';
import type { GenerateOptions } from '../worker/protocol';

export interface Strategy {
  /** The pane's name ("Beam search (5 beams)"). */
  label: string;
  /** What it sets over the neutral options (HF names). */
  options: Partial<GenerateOptions>;
}

/** The lesson's order: greedy; beam search (5 beams); with no_repeat_ngram_size 2; top-k 50; top-p 0.92 (top-k 0); temperature 0.7. */
export const STRATEGIES: readonly Strategy[] = [
  { label: 'Greedy', options: { do_sample: false } },
  { label: 'Beam search (5 beams)', options: { do_sample: false, num_beams: 5, early_stopping: true } },
  { label: 'Beam search, no repeated 2-grams', options: { do_sample: false, num_beams: 5, early_stopping: true, no_repeat_ngram_size: 2 } },
  { label: 'Top-k 50', options: { do_sample: true, top_k: 50 } },
  { label: 'Top-p 0.92 (top-k 0)', options: { do_sample: true, top_k: 0, top_p: 0.92 } },
  { label: 'Temperature 0.7', options: { do_sample: true, top_k: 0, temperature: 0.7 } },
];

/** Every processor and search option at Hugging Face's default, top_k off: what a strategy starts from. */
function neutral(): Omit<GenerateOptions, 'max_new_tokens' | 'seed'> {
  const d = (name: Parameters<typeof optionSpec>[0]) => optionSpec(name).default;
  return {
    do_sample: false,
    repetition_penalty: d('repetition_penalty') as number,
    no_repeat_ngram_size: d('no_repeat_ngram_size') as number,
    temperature: d('temperature') as number,
    top_h: null,
    top_k: 0,
    top_p: d('top_p') as number,
    min_p: d('min_p') as number,
    typical_p: d('typical_p') as number,
    epsilon_cutoff: d('epsilon_cutoff') as number,
    eta_cutoff: d('eta_cutoff') as number,
    num_beams: d('num_beams') as number,
    length_penalty: d('length_penalty') as number,
    early_stopping: d('early_stopping') as boolean,
    num_return_sequences: 1,
  };
}

/** A strategy's run options: the page's new-token count and seed, everything else the strategy's (one sequence). */
export function strategyOptions(strategy: Strategy, page: Pick<GenerateOptions, 'max_new_tokens' | 'seed'>): GenerateOptions {
  return { ...neutral(), max_new_tokens: page.max_new_tokens, seed: page.seed, ...strategy.options };
}

/**
 * The share of a sequence's n-grams that repeat an n-gram seen earlier in it: 0 when every n-gram
 * is new, towards 1 for text that loops. Null when the sequence has no n-gram (fewer than n ids).
 */
export function repeatedNgramShare(ids: readonly number[], n: number): number | null {
  const total = ids.length - n + 1;
  if (total <= 0) return null;
  const seen = new Set<string>();
  let repeated = 0;
  for (let i = 0; i < total; i++) {
    const key = ids.slice(i, i + n).join(',');
    if (seen.has(key)) repeated++;
    else seen.add(key);
  }
  return repeated / total;
}

/** A pane's measures: mean log-probability of its tokens under the raw model, perplexity, and repeated 2- and 3-grams. */
export interface StrategyScore {
  meanLogprob: number | null;
  perplexity: number | null;
  repeated2: number | null;
  repeated3: number | null;
}

/** The measures of a pane's ids, given the sum of their raw log-probabilities (null when unknown). */
export function strategyScore(ids: readonly number[], logprobSum: number | null): StrategyScore {
  const mean = logprobSum === null || ids.length === 0 ? null : logprobSum / ids.length;
  return {
    meanLogprob: mean,
    perplexity: mean === null ? null : Math.exp(-mean),
    repeated2: repeatedNgramShare(ids, 2),
    repeated3: repeatedNgramShare(ids, 3),
  };
}
