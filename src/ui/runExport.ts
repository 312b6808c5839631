/**
 * Export: the run and every branch as one JSON file, each pane's tokens in the records the CLI's
 * `generate --json --top-logprobs` prints (generation/logprobs.ts: OpenAI's `token`, `logprob`,
 * `bytes`, `top_logprobs`, with `id` beside them).
 */
import { tokenLogprobs, type TokenLogprobs } from '../generation/logprobs';
import type { BackendInfo, FinishReason, GenerateOptions, ModelInfo } from '../worker/protocol';
import type { PaneView } from './panes';

/** How many alternatives each exported token lists (OpenAI's maximum). */
export const EXPORT_TOP_LOGPROBS = 20;

export interface PaneExport {
  /** The pane's key: 'run-0', 'run-1', … for the run's sequences, 'branch-<request>' for a branch, 'compare-<request>' for a Compare strategies pane. */
  key: string;
  /** Its heading: "Output 1", or where a branch came from (`Output 1 › token 7 › "␣the"`). */
  name: string;
  /** A branch's parent pane (its key); null for the run's own sequences. */
  parent: string | null;
  /** A branch's place in its parent: the 0-based index of the parent's token its forced first token replaced; null otherwise. */
  position: number | null;
  /** The ids the pane's first token followed (a branch: the parent's prompt and tokens before `position`). */
  prompt_ids: number[] | null;
  /** The generate() options it was written with (a branch: the settings when it was made). */
  settings: GenerateOptions | null;
  /** The sampling seed; null for greedy decoding. */
  seed: number | null;
  /** The text its tokens add (a branch: from its forced token on). */
  text: string;
  finish_reason: FinishReason | null;
  /** One record per token (a branch's first is the forced token, with the parent step's distribution). */
  tokens: TokenLogprobs[];
}

export interface RunExport {
  model: ModelInfo | null;
  backend: string | null;
  adapter: string | null;
  prompt: string;
  /** The prompt ids the model read (the oldest left out when the prompt and the new tokens overflow the context). */
  prompt_ids: number[] | null;
  /** The run's generate() options (Hugging Face names). */
  settings: GenerateOptions | null;
  /** The run's sampling seed; null for greedy decoding. */
  seed: number | null;
  /** Every pane: the run's sequences in order, then the branches in the order they were made, then Compare strategies' panes. */
  sequences: PaneExport[];
}

/** One pane as exported; `bytesOf` gives a token's bytes (tokenizer/tokenBytes). */
export function paneExport(pane: PaneView, bytesOf: (id: number) => Uint8Array): PaneExport {
  return {
    key: pane.key,
    name: pane.name,
    parent: pane.branch?.parent ?? null,
    position: pane.branch?.step ?? null,
    prompt_ids: pane.promptIds,
    settings: pane.options,
    seed: pane.seed,
    text: pane.tokens.map((t) => t.text).join(''),
    finish_reason: pane.finishReason ?? null,
    tokens: pane.tokens.flatMap((t) => (t.inspection ? [tokenLogprobs(t.id, t.inspection, EXPORT_TOP_LOGPROBS, bytesOf)] : [])),
  };
}

/** The run (its prompt, settings and seed) with every pane, the run's sequences first. */
export function runExport(args: {
  model: ModelInfo | null;
  backend: BackendInfo | null;
  prompt: string;
  promptIds: number[] | null;
  options: GenerateOptions | null;
  seed: number | null;
  panes: readonly PaneView[];
  bytesOf: (id: number) => Uint8Array;
}): RunExport {
  return {
    model: args.model,
    backend: args.backend?.backend ?? null,
    adapter: args.backend?.adapter ?? null,
    prompt: args.prompt,
    prompt_ids: args.promptIds,
    settings: args.options,
    seed: args.seed,
    sequences: args.panes.map((pane) => paneExport(pane, args.bytesOf)),
  };
}

/** Saves `data` as a JSON file named `name` (a download). */
export function downloadJson(data: unknown, name: string): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
