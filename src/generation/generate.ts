/**
 * The decoding loop, in named steps: plan (options, prompt, processors), prefill the prompt once,
 * then per new token one decode step for all sequences (or beams) together, choose each token,
 * and record the timings. Greedy decoding and sampling yield every token the moment it is chosen;
 * beam search (beamSearch.ts) yields the returned sequences when the search ends.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT2 } from '../model/gpt2';
import type { KVCache } from '../model/kvCache';
import { summarizeRow, type StepLogits } from '../model/stepLogits';
import { summarizeLogits } from '../model/topLogits';
import { decode, encode } from '../tokenizer/tokenizer';
import { StreamDecoder } from '../tokenizer/streamDecoder';
import { GPT2_VOCAB_SIZE } from '../tokenizer/vocabulary';
import { checkFiniteLogits } from './finiteLogits';
import { BeamSearch, type BeamEvent } from './beamSearch';
import { applyProcessors, buildLogitsProcessors, type LogitsProcessor } from './logitsProcessors';
import { GenerationOptionError, isSampling, validateOptions, type GenerationOptions, type ResolvedGenerationOptions } from './options';
import { randomSeed, Xoshiro128StarStar } from './random';
import { argmax, sampleAt, type RandomSource } from './sampler';
import { StoppingCriteria, type FinishReason } from './stopping';
import { nextMacrotask } from '../model/macrotask';

/** What generation needs from a model; GPT2 provides it (tests may pass a scripted stand-in). */
export type GenerationModel = Pick<GPT2, 'config' | 'newCache' | 'forward'> & Partial<Pick<GPT2, 'topK'>>;

export interface TokenEvent {
  sequence: number;
  tokenId: number;
  /** Text this token adds (UTF-8 safe: '' while a character is incomplete; '' for the EOS token). */
  text: string;
  /** 0-based index of the token among the sequence's new tokens. */
  index: number;
  /** Since generate() started. */
  elapsedMs: number;
  /** Set on a sequence's last token: why it ended ('abort' never appears here, nothing follows an abort). */
  finishReason?: FinishReason;
  /** With `inspectTop`: what the model and the sampler saw at this step. */
  inspection?: TokenInspection;
}

/** One step as the token inspector needs it (GenerationControl.inspectTop > 0). */
export interface TokenInspection {
  /** log softmax of the raw logits at the chosen token: the model's log-probability of it. */
  logprob: number;
  /** 1-based rank of the chosen token by raw logit. */
  rank: number;
  /** The uniform number in [0, 1) the sampler drew for this token; null when decoding greedily. */
  draw: number | null;
  /** The step's logits, summarised (the chosen token's logit is always among them). */
  logits: StepLogits;
}

/** How a generate() call is run, beside the Hugging Face options. */
export interface GenerationControl {
  /** Aborting stops before the next forward pass; the result's finish reasons say 'abort'. */
  signal?: AbortSignal;
  /** Attach a TokenInspection with this many top logits to every token; 0 or absent: none (fastest). Beam search attaches none. */
  inspectTop?: number;
  /** Called once the prompt is encoded and fitted to the context, before the first forward pass. */
  onStart?: (start: GenerationStart) => void;
  /**
   * A batch-1 cache that already holds the first `prefix.length` positions of the prompt ids (a
   * KVCache.fork of a kept cache, say): only the remaining prompt ids run through the model, and
   * the tokens and logits are those of a run without it. At least one prompt id must remain.
   * generate() owns it once iteration starts: it is disposed or handed to keepCache, also when
   * generate() throws. If the prompt does not fit the context with the new tokens (its first ids
   * are dropped), the positions no longer match: the prefix is disposed and the prompt prefilled.
   */
  prefix?: KVCache;
  /**
   * At the end (done, stopped or aborted, or the caller stopped iterating; not after an error) the
   * cache is handed here instead of being disposed, with, per batch row, the ids whose keys and values it holds: the prompt ids,
   * then each token fed so far (a sequence's last token is not fed; a finished sequence keeps
   * being fed its last token while others continue). The receiver disposes the cache. Not called
   * when no cache was made (aborted before the first forward pass, without a prefix).
   */
  keepCache?: (cache: KVCache, rows: number[][]) => void;
  /** Beam search (num_beams > 1): called after every step and once at the end, with what a beam tree draws. */
  onBeam?: (event: BeamEvent) => void;
}

export interface GenerationStart {
  /** The prompt ids the model reads (an empty prompt reads <|endoftext|>). */
  promptIds: number[];
  droppedPromptTokens: number;
  maxNewTokens: number;
  /** The sampling seed (a fresh one if none was given); null for greedy decoding. */
  seed: number | null;
}

export interface GeneratedSequence {
  /** New ids only (an EOS that ended the sequence included, as HF returns it). */
  ids: number[];
  /** The concatenated TokenEvent texts of this sequence. */
  text: string;
  finishReason: FinishReason;
  /** Beam search: the hypothesis's normalised score (HF's sequences_scores); absent otherwise and for an aborted search. */
  score?: number;
}

export interface GenerationTimings {
  /** Running the prompt through the model, up to its logits being read back. */
  prefillMs: number;
  /** From the call to the first token chosen. */
  firstTokenMs: number;
  /** Tokens (all sequences, or all beams) per second over the steps after the first token. */
  decodeTokensPerSecond: number;
  totalMs: number;
  /** Tokens generated, all sequences together (beam search: every beam's, each step). */
  newTokens: number;
}

export interface GenerationResult {
  sequences: GeneratedSequence[];
  /** The prompt ids the model read (after dropping the oldest ones that did not fit). */
  promptIds: number[];
  droppedPromptTokens: number;
  timings: GenerationTimings;
  /** New-token budget after fitting the context window. */
  maxNewTokens: number;
  /** The seed sampling used (a fresh one if none was given); null for greedy decoding. */
  seed: number | null;
  /** Adjustments made so the request fits the model, in words (prompt cut, budget clamped). */
  warnings: string[];
}

export interface GenerationPlan {
  promptIds: number[];
  droppedPromptTokens: number;
  maxNewTokens: number;
  warnings: string[];
}

/**
 * Fits prompt + new tokens into the context window. max_new_tokens wins over max_length (as in HF);
 * a budget longer than the context is clamped; then the oldest prompt tokens that do not fit go.
 */
export function planGeneration(
  promptIds: readonly number[],
  options: Pick<ResolvedGenerationOptions, 'max_new_tokens' | 'max_length'>,
  nPositions: number,
): GenerationPlan {
  const warnings: string[] = [];
  let maxNewTokens: number;
  if (options.max_new_tokens !== null) {
    maxNewTokens = options.max_new_tokens;
  } else {
    maxNewTokens = options.max_length - promptIds.length;
    if (maxNewTokens < 1) {
      throw new GenerationOptionError(
        'max_length',
        options.max_length,
        `it counts the prompt, which is already ${promptIds.length} tokens long; ` +
          `set max_length above ${promptIds.length} or use max_new_tokens`,
      );
    }
  }
  if (maxNewTokens > nPositions - 1) {
    warnings.push(
      `${maxNewTokens} new tokens do not fit in this model's context of ${nPositions} tokens; ` +
        `generating at most ${nPositions - 1} (the context must also hold at least one prompt token).`,
    );
    maxNewTokens = nPositions - 1;
  }
  const room = nPositions - maxNewTokens;
  const droppedPromptTokens = Math.max(0, promptIds.length - room);
  if (droppedPromptTokens > 0) {
    warnings.push(
      `The prompt (${promptIds.length} tokens) plus ${maxNewTokens} new tokens exceed the ` +
        `context of ${nPositions} tokens: the first ${droppedPromptTokens} prompt tokens were left out.`,
    );
  }
  return { promptIds: promptIds.slice(droppedPromptTokens), droppedPromptTokens, maxNewTokens, warnings };
}

interface SequenceState {
  ids: number[];
  text: string;
  decoder: StreamDecoder;
  finishReason: FinishReason | null;
}

/**
 * Streams generated tokens. `prompt` is text (or token ids); an empty prompt starts from
 * <|endoftext|>, as HF does. Aborting stops before the next forward pass (finishReason 'abort').
 * With num_beams > 1 (beam search) a token is only final once the search ends: the returned
 * sequences' tokens are yielded then, and GenerationControl.onBeam follows the search step by step.
 */
export async function* generate(
  model: GenerationModel,
  prompt: string | readonly number[],
  options: GenerationOptions = {},
  control: GenerationControl = {},
): AsyncGenerator<TokenEvent, GenerationResult, void> {
  const holder = new CacheHolder(control.prefix ?? null); // generate() owns the prefix from here
  let failed = false;
  try {
    return yield* decodeLoop(model, prompt, options, control, holder);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    holder.release(failed ? undefined : control.keepCache);
  }
}

/**
 * The loop's KV cache and, per batch row, the ids whose keys and values it holds; whatever
 * happens, the cache is disposed or handed over exactly once (release).
 */
class CacheHolder {
  rows: number[][] = [];

  constructor(private current: KVCache | null) {}

  get cache(): KVCache | null {
    return this.current;
  }

  /** The cache, which must exist by now. */
  get live(): KVCache {
    if (!this.current) throw new Error('generate() has no cache to run on');
    return this.current;
  }

  /** Runs ids [B][T] through the model on this cache and records them. */
  forward(model: GenerationModel, ids: number[][]): tf.Tensor2D {
    const logits = model.forward(ids, this.live);
    ids.forEach((row, b) => this.rows[b].push(...row));
    return logits;
  }

  /** Takes `next` (holding `rows`) and disposes the cache it replaces. */
  replace(next: KVCache | null, rows: number[][]): void {
    const old = this.current;
    this.current = next;
    this.rows = rows;
    if (old !== next) old?.dispose();
  }

  /** Beam search: row b continues row parents[b] (KVCache.reorder), and so do the recorded ids. */
  reorder(parents: readonly number[]): void {
    this.live.reorder(parents);
    this.rows = parents.map((parent) => [...this.rows[parent]]);
  }

  /** Hands the cache to `keep` with its rows, or disposes it. */
  release(keep?: (cache: KVCache, rows: number[][]) => void): void {
    const cache = this.current;
    this.current = null;
    if (cache && keep) keep(cache, this.rows);
    else cache?.dispose();
  }
}

/**
 * Checks GenerationControl.prefix against the prompt (`promptLength` ids as given) and readies it
 * for `capacity` positions (a larger fork when it is too small). When planning dropped the first
 * prompt ids, its positions no longer match: it is disposed and the prompt will be prefilled.
 */
function adoptPrefix(holder: CacheHolder, promptLength: number, plan: GenerationPlan, capacity: number): void {
  const prefix = holder.live;
  if (prefix.batchSize !== 1) {
    throw new RangeError(
      `GenerationControl.prefix must be a batch-1 cache, this one holds ${prefix.batchSize} sequences (fork one row of it)`,
    );
  }
  if (prefix.length >= promptLength) {
    throw new RangeError(
      `GenerationControl.prefix holds ${prefix.length} positions but the prompt has ${promptLength} ids: ` +
        'at least one prompt id must remain for the model to read (fork the cache shorter)',
    );
  }
  if (plan.droppedPromptTokens > 0) return holder.replace(null, []);
  const ready = prefix.capacity >= capacity ? prefix : prefix.fork(0, prefix.length, capacity);
  holder.replace(ready, [plan.promptIds.slice(0, prefix.length)]);
}

/** Everything a run needs that is known before the first forward pass. */
interface RunPlan extends GenerationPlan {
  o: ResolvedGenerationOptions;
  /** The batch: num_return_sequences samples, or num_beams beams. */
  batch: number;
  sampling: boolean;
  seed: number | null;
  processors: LogitsProcessor[];
  /** Whether a processor reads the sequence so far (repetition penalty, n-gram block). */
  needsHistory: boolean;
  stopping: StoppingCriteria;
  inspectTop: number;
  readLogits: LogitsReader;
}

/** Plan: validates the options, encodes and fits the prompt, builds the processors (no model call). */
function planRun(model: GenerationModel, prompt: string | readonly number[], options: GenerationOptions, control: GenerationControl) {
  const o = validateOptions(options);
  const { vocabSize, nPositions, bosTokenId } = model.config;
  const eosTokenId = o.eos_token_id === undefined ? model.config.eosTokenId : o.eos_token_id;
  if (eosTokenId !== null && eosTokenId >= vocabSize) {
    throw new GenerationOptionError('eos_token_id', eosTokenId, `expected an id below the vocabulary size ${vocabSize}`);
  }
  const encoded = typeof prompt === 'string' ? encode(prompt) : [...prompt];
  const given = encoded.length > 0 ? encoded : [bosTokenId];
  const sampling = isSampling(o);
  const inspectTop = o.num_beams > 1 ? 0 : Math.max(0, Math.floor(control.inspectTop ?? 0)); // beams: no per-token inspection
  const plan = planGeneration(given, o, nPositions);
  const run: RunPlan = {
    ...plan,
    o,
    batch: o.num_beams > 1 ? o.num_beams : o.num_return_sequences,
    sampling,
    seed: sampling ? (o.seed ?? randomSeed()) : null,
    processors: buildLogitsProcessors(o),
    needsHistory: o.repetition_penalty !== 1 || o.no_repeat_ngram_size > 0,
    stopping: new StoppingCriteria(plan.maxNewTokens, eosTokenId, o.stop),
    inspectTop,
    readLogits: logitsReader(model, o, sampling, inspectTop),
  };
  return { run, givenLength: given.length };
}

/** The run's timings: when the prefill and the first token were done, and the decode rate after that. */
class Stopwatch {
  readonly start = now();
  prefillMs = 0;
  firstTokenMs = 0;
  private decodeStart = 0;
  private firstStepTokens = 0;

  prefillDone(): void {
    this.prefillMs = now() - this.start;
  }

  firstToken(): void {
    if (this.firstTokenMs === 0) this.firstTokenMs = now() - this.start;
  }

  /** After the first step, which produced `tokens` tokens: the decode rate counts from here. */
  firstStepDone(tokens: number): void {
    this.firstStepTokens = tokens;
    this.decodeStart = now();
  }

  /** `newTokens`: every token the run produced (all sequences, or all beams' steps). */
  timings(newTokens: number): GenerationTimings {
    const decodeSeconds = this.decodeStart > 0 ? (now() - this.decodeStart) / 1000 : 0;
    const decodeTokens = newTokens - this.firstStepTokens;
    return {
      prefillMs: this.prefillMs,
      firstTokenMs: this.firstTokenMs,
      totalMs: now() - this.start,
      newTokens,
      decodeTokensPerSecond: decodeSeconds > 0 && decodeTokens > 0 ? decodeTokens / decodeSeconds : 0,
    };
  }
}

/** generate()'s body; `holder` owns the cache (and the prefix, if any). */
async function* decodeLoop(
  model: GenerationModel,
  prompt: string | readonly number[],
  options: GenerationOptions,
  control: GenerationControl,
  holder: CacheHolder,
): AsyncGenerator<TokenEvent, GenerationResult, void> {
  const watch = new Stopwatch();
  const { run, givenLength } = planRun(model, prompt, options, control);
  if (holder.cache) adoptPrefix(holder, givenLength, run, run.promptIds.length + run.maxNewTokens);
  control.onStart?.({
    promptIds: run.promptIds,
    droppedPromptTokens: run.droppedPromptTokens,
    maxNewTokens: run.maxNewTokens,
    seed: run.seed,
  });
  return run.o.num_beams > 1 ? yield* beamLoop(model, run, control, holder, watch) : yield* sampleLoop(model, run, control, holder, watch);
}

/** Prefill: runs the prompt (past a prefix) through the model once; its one row of logits is shared by every sequence. */
async function prefill(model: GenerationModel, run: RunPlan, holder: CacheHolder, watch: Stopwatch): Promise<LogitsRead> {
  if (!holder.cache) holder.replace(model.newCache(1, run.promptIds.length + run.maxNewTokens), [[]]);
  const past = holder.live.length; // > 0 with a prefix: those positions are not run again
  const read = await run.readLogits(holder.forward(model, [run.promptIds.slice(past)]), [run.promptIds], true);
  watch.prefillDone();
  if (run.batch > 1) {
    holder.replace(
      holder.live.repeat(run.batch),
      Array.from({ length: run.batch }, () => [...run.promptIds]),
    ); // every sequence continues from the same prompt
  }
  return read;
}

/** Step: one new token per batch row through the model, one forward pass for the whole batch. */
function decodeStep(
  model: GenerationModel,
  run: RunPlan,
  holder: CacheHolder,
  tokens: number[],
  histories: number[][],
): Promise<LogitsRead> {
  return run.readLogits(
    holder.forward(
      model,
      tokens.map((id) => [id]),
    ),
    histories,
    false,
  );
}

/** A row of logits as float64 scores over the tokenizer's ids (a padded vocabulary's extra ids are never candidates). */
function rowScores(read: LogitsRead, row: number, vocabSize: number): Float64Array {
  const at = (read.shared ? 0 : row) * vocabSize;
  return Float64Array.from(read.scores.subarray(at, at + Math.min(vocabSize, GPT2_VOCAB_SIZE)));
}

/** Choose the token: the processors on the row's scores, then argmax or a draw. */
function chooseToken(
  run: RunPlan,
  scores: Float64Array,
  history: () => number[],
  random: RandomSource | null,
): { tokenId: number; draw: number | null } {
  applyProcessors(run.processors, scores, run.needsHistory ? history() : []);
  const draw = random ? random.nextFloat() : null;
  return { tokenId: draw === null ? argmax(scores) : sampleAt(scores, draw), draw };
}

/** Greedy decoding and sampling: every sequence yields its token the moment it is chosen. */
async function* sampleLoop(
  model: GenerationModel,
  run: RunPlan,
  control: GenerationControl,
  holder: CacheHolder,
  watch: Stopwatch,
): AsyncGenerator<TokenEvent, GenerationResult, void> {
  const { signal } = control;
  const n = run.batch;
  const vocabSize = model.config.vocabSize;
  const randoms = run.sampling ? Array.from({ length: n }, (_, i) => Xoshiro128StarStar.fromSeed(run.seed!, i)) : [];
  const sequences: SequenceState[] = Array.from({ length: n }, () => ({
    ids: [],
    text: '',
    decoder: new StreamDecoder(),
    finishReason: null,
  }));
  const result = (): GenerationResult =>
    resultOf(
      run,
      sequences.map((s) => ({ ids: s.ids, text: s.text, finishReason: s.finishReason ?? 'abort' })),
      watch.timings(sequences.reduce((sum, s) => sum + s.ids.length, 0)),
    );

  if (signal?.aborted) return result();
  let read = await prefill(model, run, holder, watch);
  decoding: for (let step = 0; ; step++) {
    for (let s = 0; s < n; s++) {
      const seq = sequences[s];
      if (seq.finishReason) continue;
      if (signal?.aborted) break decoding;
      const scores = rowScores(read, s, vocabSize);
      checkFiniteLogits(scores, s, step, n);
      const { tokenId, draw } = chooseToken(run, scores, () => run.promptIds.concat(seq.ids), randoms[s] ?? null);
      const row = read.shared ? 0 : s;
      const inspection = read.steps && inspectionOf(read.steps[row], read.scores, row, vocabSize, tokenId, draw);
      watch.firstToken();
      const event = appendToken(run, seq, s, tokenId, step, watch);
      if (inspection) event.inspection = inspection;
      yield event;
    }
    if (step === 0) watch.firstStepDone(n);
    if (sequences.every((seq) => seq.finishReason)) break;

    await nextMacrotask(); // lets an abort (or a UI message) in between steps
    if (signal?.aborted) break decoding;
    // Finished sequences keep their batch row (fed their last token); their logits are ignored.
    read = await decodeStep(
      model,
      run,
      holder,
      sequences.map((seq) => seq.ids[seq.ids.length - 1]),
      sequences.map((seq) => run.promptIds.concat(seq.ids)),
    );
  }
  return result();
}

/** Adds a chosen token to a sequence: its text, whether it ends the sequence, and the event that reports it. */
function appendToken(run: RunPlan, seq: SequenceState, sequence: number, tokenId: number, index: number, watch: Stopwatch): TokenEvent {
  seq.ids.push(tokenId);
  const previousLength = seq.text.length;
  let text = run.stopping.isEos(tokenId) ? '' : seq.decoder.push(tokenId);
  seq.finishReason = run.stopping.check(tokenId, seq.ids.length, seq.text + text, previousLength);
  if (seq.finishReason) text += seq.decoder.flush(); // a character left incomplete shows as U+FFFD
  seq.text += text;
  const event: TokenEvent = { sequence, tokenId, text, index, elapsedMs: now() - watch.start };
  if (seq.finishReason) event.finishReason = seq.finishReason;
  return event;
}

function resultOf(run: RunPlan, sequences: GeneratedSequence[], timings: GenerationTimings): GenerationResult {
  return {
    sequences,
    promptIds: run.promptIds,
    droppedPromptTokens: run.droppedPromptTokens,
    timings,
    maxNewTokens: run.maxNewTokens,
    seed: run.seed,
    warnings: run.warnings,
  };
}

/**
 * Beam search (num_beams > 1), as HF's `_beam_search`: each step turns every beam's logits into
 * log-probabilities, applies the processors, lets BeamSearch pick the candidates, reorders the KV
 * cache so each row continues its parent beam, and runs the new tokens as one batch. When it ends,
 * the best num_return_sequences hypotheses are yielded token by token and returned with their scores.
 */
async function* beamLoop(
  model: GenerationModel,
  run: RunPlan,
  control: GenerationControl,
  holder: CacheHolder,
  watch: Stopwatch,
): AsyncGenerator<TokenEvent, GenerationResult, void> {
  const { signal } = control;
  const { o } = run;
  const vocabSize = model.config.vocabSize;
  const search = new BeamSearch({
    numBeams: o.num_beams,
    lengthPenalty: o.length_penalty,
    earlyStopping: o.early_stopping,
    maxNewTokens: run.maxNewTokens,
    random: run.sampling ? Xoshiro128StarStar.fromSeed(run.seed!, 0) : null,
  });
  const hitsStop = (ids: readonly number[]) => beamHitsStop(run.stopping, ids);
  let fedTokens = 0;
  let reason: 'length' | 'early_stopping' | 'abort' = 'abort';

  if (!signal?.aborted) {
    let read = await prefill(model, run, holder, watch);
    for (let step = 0; ; step++) {
      const scores = search.beams.map((beam, b) => {
        const row = rowScores(read, b, vocabSize);
        checkFiniteLogits(row, b, step, o.num_beams);
        logSoftmaxInPlace(row);
        return applyProcessors(run.processors, row, run.needsHistory ? run.promptIds.concat(beam.ids) : []);
      });
      const outcome = search.step(scores, hitsStop);
      watch.firstToken();
      control.onBeam?.(outcome.event);
      if (step === 0) watch.firstStepDone(o.num_beams);
      fedTokens += o.num_beams;
      if (outcome.done) {
        reason = outcome.done;
        break;
      }
      await nextMacrotask(); // lets an abort (or a UI message) in between steps
      if (signal?.aborted) break;
      holder.reorder(outcome.parents);
      read = await decodeStep(
        model,
        run,
        holder,
        outcome.tokens,
        search.beams.map((beam) => run.promptIds.concat(beam.ids)),
      );
    }
  }

  // An aborted search returns its running beams, unscored; a finished one its best hypotheses.
  const ranking = reason === 'abort' ? [] : search.ranking(o.num_return_sequences);
  control.onBeam?.({ type: 'done', ranking, reason });
  const chosen = reason === 'abort' ? search.beams.slice(0, o.num_return_sequences).filter((b) => b.ids.length > 0) : ranking;
  const sequences = yield* emitSequences(run, chosen, reason === 'abort', watch);
  return resultOf(run, sequences, watch.timings(fedTokens));
}

/**
 * Yields the tokens of beam search's chosen sequences, one sequence after the other (texts built
 * as sampling builds them), and returns them with their scores; `aborted`: they are the running
 * beams of a search cut short, each ending with finish reason abort.
 */
function* emitSequences(
  run: RunPlan,
  chosen: readonly { ids: number[]; score?: number }[],
  aborted: boolean,
  watch: Stopwatch,
): Generator<TokenEvent, GeneratedSequence[], void> {
  const sequences: GeneratedSequence[] = [];
  for (const [i, hypothesis] of chosen.entries()) {
    const seq: SequenceState = { ids: [], text: '', decoder: new StreamDecoder(), finishReason: null };
    for (const [index, tokenId] of hypothesis.ids.entries()) {
      const event = appendToken(run, seq, i, tokenId, index, watch);
      if (aborted && index === hypothesis.ids.length - 1) event.finishReason = seq.finishReason = 'abort';
      yield event;
    }
    sequences.push({
      ids: seq.ids,
      text: seq.text,
      finishReason: seq.finishReason ?? 'length',
      ...(hypothesis.score === undefined ? {} : { score: hypothesis.score }),
    });
  }
  return sequences;
}

/** Whether a beam candidate (generated ids, the new token last) must stop: EOS, a stop string ending in it, or the budget. */
function beamHitsStop(stopping: StoppingCriteria, ids: readonly number[]): boolean {
  const tokenId = ids[ids.length - 1];
  if (stopping.isEos(tokenId) || ids.length >= stopping.maxNewTokens) return true;
  if (stopping.stopStrings.length === 0) return false;
  return stopping.hitsStopString(decode(ids as number[]), decode(ids.slice(0, -1) as number[]).length);
}

/** log_softmax in place, in float64 (HF's beam search scores); -Infinity stays -Infinity. */
function logSoftmaxInPlace(values: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  const logSum = max + Math.log(sum);
  for (let i = 0; i < values.length; i++) values[i] -= logSum;
  return values;
}

/** One forward pass's logits as the loop reads them: rows of scores, and their summaries when inspecting. */
interface LogitsRead {
  /** [rows × vocab]; ids not read back (GPU top-k) are -Infinity. */
  scores: Float32Array;
  /** One summary per row, with inspectTop; null otherwise. */
  steps: StepLogits[] | null;
  /** The prefill's one row, which every sequence starts from; false for a decode step's row per sequence. */
  shared: boolean;
}

type LogitsReader = (logits: tf.Tensor2D, histories: number[][], shared: boolean) => Promise<LogitsRead>;

/**
 * How the loop reads logits back. On WebGPU, when nothing before top-k looks at the other logits
 * (no repetition penalty or n-gram block; not beam search; greedy, or sampling with top_k > 0 and
 * no top-h, which reads the top 100), only each row's top-k candidates
 * (GPT2.topK, ties at the k-th value included), or with `inspectTop` its summary (summarizeLogits:
 * top logits, log-sum-exp, histogram), are read back, and every other logit reads as -Infinity: the
 * processors and the sampler then see exactly the scores top-k would have left them, so the tokens
 * are the same. Otherwise every logit is read back (and summarised on the CPU when inspecting).
 * `histories[b]` is row b's sequence so far, which a summary lists for the repetition penalty.
 */
function logitsReader(model: GenerationModel, o: ResolvedGenerationOptions, sampling: boolean, inspectTop: number): LogitsReader {
  const k = sampling ? o.top_k : 1;
  const vocabSize = model.config.vocabSize;
  // A padded vocabulary's extra ids could take top-k places that sampling never uses.
  const topKOnGPU =
    model.topK !== undefined &&
    tf.getBackend() === 'webgpu' &&
    o.repetition_penalty === 1 &&
    o.no_repeat_ngram_size === 0 &&
    o.num_beams === 1 &&
    !(sampling && o.top_h !== null) &&
    k > 0 &&
    vocabSize <= GPT2_VOCAB_SIZE;
  const topOnly = (rows: { ids: ArrayLike<number>; values: ArrayLike<number> }[]): Float32Array => {
    const scores = new Float32Array(rows.length * vocabSize).fill(-Infinity);
    rows.forEach(({ ids, values }, b) => {
      for (let j = 0; j < ids.length; j++) scores[b * vocabSize + ids[j]] = values[j];
    });
    return scores;
  };
  const tokenizerIds = Math.min(vocabSize, GPT2_VOCAB_SIZE);
  return async (logits, histories, shared) => {
    try {
      if (topKOnGPU && inspectTop >= k) {
        const steps = await summarizeLogits(logits, inspectTop, histories);
        return {
          scores: topOnly(steps.map((step) => ({ ids: step.ids.subarray(0, step.top), values: step.logits.subarray(0, step.top) }))),
          steps,
          shared,
        };
      }
      if (topKOnGPU && inspectTop === 0) return { scores: topOnly(await model.topK!(logits, k)), steps: null, shared };
      const scores = (await logits.data()) as Float32Array;
      const steps =
        inspectTop === 0
          ? null
          : histories.map((history, b) => summarizeRow(scores.subarray(b * vocabSize, b * vocabSize + tokenizerIds), inspectTop, history));
      return { scores, steps, shared };
    } finally {
      logits.dispose();
    }
  };
}

/** The chosen token's place in its step's raw distribution, with the step's summary. */
function inspectionOf(
  step: StepLogits,
  scores: Float32Array,
  row: number,
  vocabSize: number,
  tokenId: number,
  draw: number | null,
): TokenInspection {
  let at = step.ids.indexOf(tokenId);
  let logits = step;
  if (at < 0) {
    // Chosen beyond the listed ids (possible with top-k off): add it, from the full row read back.
    at = step.ids.length;
    logits = {
      ...step,
      ids: Int32Array.from([...step.ids, tokenId]),
      logits: Float32Array.from([...step.logits, scores[row * vocabSize + tokenId]]),
    };
  }
  const logit = logits.logits[at];
  let rank = at + 1;
  if (at >= step.top) {
    rank = 1;
    const full = scores.subarray(row * vocabSize, (row + 1) * vocabSize);
    for (let id = 0; id < vocabSize; id++) if (full[id] > logit || (full[id] === logit && id < tokenId)) rank++;
  }
  return { logprob: logit - step.logSumExp, rank, draw, logits };
}

function now(): number {
  return performance.now();
}
