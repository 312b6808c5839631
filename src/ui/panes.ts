/**
 * The output panes as the page shows them: one per sequence of the run, then one per branch, each
 * with what the inspector, Branch and the attention view need (its ids, seed, and which kept KV
 * cache holds its prefix). Pure: derived from the app state.
 */
import { isSampling } from '../generation/options';
import type { FinishReason, GenerateOptions } from '../worker/protocol';
import type { AppState, BranchState, ComparePane, RunToken } from './appState';

export interface PaneView {
  /** 'run-0', 'run-1', … for the run's sequences; 'branch-<request id>' for branches. */
  key: string;
  /** Its heading: "Output 1", or where a branch came from (`Output 1 › token 7 › "␣the"`). */
  name: string;
  /** Its region's accessible name: the name, with "Branch: " before a branch's. */
  label: string;
  /** The text before its tokens (shown muted). */
  promptText: string;
  /** The ids before its first token; null until the worker has tokenized the prompt. */
  promptIds: number[] | null;
  tokens: RunToken[];
  streaming: boolean;
  finishReason?: FinishReason;
  /** The settings and seed it was written with (the seed is null for greedy decoding). */
  options: GenerateOptions | null;
  seed: number | null;
  /** The request and batch row whose kept KV cache holds this pane's ids (for a branch's prefix). */
  source: { request: number; sequence: number };
  /** Set for a branch pane. */
  branch?: BranchState;
  /** Set for a Compare strategies pane. */
  compare?: ComparePane;
}

export function runPaneKey(sequence: number): string {
  return `run-${sequence}`;
}

export function branchPaneKey(requestId: number): string {
  return `branch-${requestId}`;
}

export function comparePaneKey(requestId: number): string {
  return `compare-${requestId}`;
}

export function panesOf(state: Pick<AppState, 'run' | 'branches' | 'compare'>): PaneView[] {
  const { run } = state;
  const streaming = run.status === 'running' || run.status === 'stopping';
  const runPanes = run.outputs.map((_, s): PaneView => ({
    key: runPaneKey(s),
    name: `Output ${s + 1}`,
    label: `Output ${s + 1}`,
    promptText: run.prompt,
    promptIds: run.promptIds,
    tokens: run.tokens[s] ?? [],
    streaming,
    finishReason: run.finishReasons[s],
    options: run.options,
    seed: run.seed,
    source: { request: run.requestId, sequence: s },
  }));
  const branchPanes = state.branches.map((b): PaneView => ({
    key: branchPaneKey(b.requestId),
    name: b.origin,
    label: `Branch: ${b.origin}`,
    promptText: b.prefixText,
    promptIds: b.prefixIds,
    tokens: b.tokens,
    streaming: b.status === 'running' || b.status === 'stopping',
    finishReason: b.finishReason ?? undefined,
    options: b.options,
    seed: isSampling(b.options) ? b.options.seed : null,
    source: { request: b.requestId, sequence: 0 },
    branch: b,
  }));
  const comparePanes = state.compare.map((c): PaneView => ({
    key: comparePaneKey(c.requestId),
    name: c.label,
    label: `Strategy: ${c.label}`,
    promptText: c.prompt,
    promptIds: c.promptIds,
    tokens: c.tokens,
    streaming: c.status === 'running' || c.status === 'stopping',
    finishReason: c.finishReason ?? undefined,
    options: c.options,
    seed: c.seed,
    source: { request: c.requestId, sequence: 0 },
    compare: c,
  }));
  return [...runPanes, ...branchPanes, ...comparePanes];
}

/** History (prompt and earlier tokens) per token, computed once: a token object belongs to one pane and one position. */
const histories = new WeakMap<RunToken, number[]>();

/** The ids before token `index` of `pane`: what the model read when it chose that token. */
export function historyBefore(pane: PaneView, index: number): number[] {
  const token = pane.tokens[index];
  let history = histories.get(token);
  if (!history) {
    history = [...(pane.promptIds ?? []), ...pane.tokens.slice(0, index).map((t) => t.id)];
    histories.set(token, history);
  }
  return history;
}

/** Sum of the raw model's log-probabilities of a pane's tokens (those with an inspection). */
export function cumulativeLogprob(tokens: readonly RunToken[]): number | null {
  let sum = 0;
  let any = false;
  for (const t of tokens) {
    if (!t.inspection) continue;
    sum += t.inspection.logprob;
    any = true;
  }
  return any ? sum : null;
}
