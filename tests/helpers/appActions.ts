/** Building blocks for the page-state tests: worker messages as reducer actions, and a run's options and stats. */
import { appReducer, initialAppState, type AppAction, type AppState } from '../../src/ui/appState';
import type { FromWorker, GenerateOptions, GenerationStats } from '../../src/worker/protocol';

/** A message from the worker, as the page's reducer receives it. */
export const msg = (message: FromWorker): AppAction => ({ type: 'message', message });

/** The state after `actions`, from `from` (the initial state by default). */
export const run = (actions: AppAction[], from: AppState = initialAppState): AppState => actions.reduce(appReducer, from);

/** Sampling options of a run (top-k 50, top-p 0.95, seed 42, …) with `overrides`. */
export const generateOptions = (overrides: Partial<GenerateOptions> = {}): GenerateOptions => ({
  max_new_tokens: 10,
  do_sample: true,
  temperature: 1,
  top_k: 50,
  top_p: 0.95,
  min_p: 0,
  repetition_penalty: 1,
  no_repeat_ngram_size: 0,
  top_h: null,
  typical_p: 1,
  epsilon_cutoff: 0,
  eta_cutoff: 0,
  num_beams: 1,
  length_penalty: 1,
  early_stopping: false,
  num_return_sequences: 1,
  seed: 42,
  ...overrides,
});

/** A finished run's stats (3 prompt tokens, 20 tok/s, …) with `overrides`. */
export const generationStats = (overrides: Partial<GenerationStats> = {}): GenerationStats => ({
  promptTokens: 3,
  reusedPositions: 0,
  droppedPromptTokens: 0,
  prefillMs: 5,
  firstTokenMs: 100,
  decodeTokensPerSecond: 20,
  totalMs: 300,
  newTokens: 1,
  finishReasons: ['length'],
  warnings: [],
  ...overrides,
});
