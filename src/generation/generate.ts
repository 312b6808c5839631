/**
 * The decoding loop: prefill the prompt once, then one forward pass per new token for all
 * sequences together, yielding every token the moment it is chosen.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT2 } from '../model/gpt2';
import type { KVCache } from '../model/kvCache';
import { summarizeRow, type StepLogits } from '../model/stepLogits';
import { summarizeLogits } from '../model/topLogits';
import { encode } from '../tokenizer/tokenizer';
import { StreamDecoder } from '../tokenizer/streamDecoder';
import { GPT2_VOCAB_SIZE } from '../tokenizer/vocabulary';
import { checkFiniteLogits } from './finiteLogits';
import { applyProcessors, buildLogitsProcessors } from './logitsProcessors';
import { GenerationOptionError, isSampling, validateOptions, type GenerationOptions, type ResolvedGenerationOptions } from './options';
import { randomSeed, Xoshiro128StarStar } from './random';
import { argmax, sampleAt } from './sampler';
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
  /** Attach a TokenInspection with this many top logits to every token; 0 or absent: none (fastest). */
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
}

export interface GenerationTimings {
  /** Running the prompt through the model, up to its logits being read back. */
  prefillMs: number;
  /** From the call to the first token chosen. */
  firstTokenMs: number;
  /** Tokens (all sequences) per second over the steps after the first token. */
  decodeTokensPerSecond: number;
  totalMs: number;
  /** Tokens generated, all sequences together. */
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

/** generate()'s body; `holder` owns the cache (and the prefix, if any). */
async function* decodeLoop(
  model: GenerationModel,
  prompt: string | readonly number[],
  options: GenerationOptions,
  control: GenerationControl,
  holder: CacheHolder,
): AsyncGenerator<TokenEvent, GenerationResult, void> {
  const { signal } = control;
  const inspectTop = Math.max(0, Math.floor(control.inspectTop ?? 0));
  const start = now();
  const o = validateOptions(options);
  const { vocabSize, nPositions, bosTokenId } = model.config;
  const eosTokenId = o.eos_token_id === undefined ? model.config.eosTokenId : o.eos_token_id;
  if (eosTokenId !== null && eosTokenId >= vocabSize) {
    throw new GenerationOptionError('eos_token_id', eosTokenId, `expected an id below the vocabulary size ${vocabSize}`);
  }
  const encoded = typeof prompt === 'string' ? encode(prompt) : [...prompt];
  const given = encoded.length > 0 ? encoded : [bosTokenId];
  const plan = planGeneration(given, o, nPositions);
  const { promptIds, maxNewTokens } = plan;
  if (holder.cache) adoptPrefix(holder, given.length, plan, promptIds.length + maxNewTokens);

  const n = o.num_return_sequences;
  const sampling = isSampling(o);
  const seed = sampling ? (o.seed ?? randomSeed()) : null;
  const randoms = sampling ? Array.from({ length: n }, (_, i) => Xoshiro128StarStar.fromSeed(seed!, i)) : [];
  const processors = buildLogitsProcessors(o);
  const needsHistory = o.repetition_penalty !== 1;
  const readLogits = logitsReader(model, o, sampling, inspectTop);
  const stopping = new StoppingCriteria(maxNewTokens, eosTokenId, o.stop);
  const sequences: SequenceState[] = Array.from({ length: n }, () => ({
    ids: [],
    text: '',
    decoder: new StreamDecoder(),
    finishReason: null,
  }));

  let prefillMs = 0;
  let firstTokenMs = 0;
  let decodeStart = 0;
  let firstStepTokens = 0;
  const result = (): GenerationResult => {
    const totalMs = now() - start;
    const newTokens = sequences.reduce((sum, s) => sum + s.ids.length, 0);
    const decodeSeconds = decodeStart > 0 ? (now() - decodeStart) / 1000 : 0;
    const decodeTokens = newTokens - firstStepTokens;
    return {
      sequences: sequences.map((s) => ({ ids: s.ids, text: s.text, finishReason: s.finishReason ?? 'abort' })),
      promptIds,
      droppedPromptTokens: plan.droppedPromptTokens,
      timings: {
        prefillMs,
        firstTokenMs,
        totalMs,
        newTokens,
        decodeTokensPerSecond: decodeSeconds > 0 && decodeTokens > 0 ? decodeTokens / decodeSeconds : 0,
      },
      maxNewTokens,
      seed,
      warnings: plan.warnings,
    };
  };

  control.onStart?.({ promptIds, droppedPromptTokens: plan.droppedPromptTokens, maxNewTokens, seed });
  if (signal?.aborted) return result();
  if (!holder.cache) holder.replace(model.newCache(1, promptIds.length + maxNewTokens), [[]]);
  const past = holder.live.length; // > 0 with a prefix: those positions are not run again
  let read = await readLogits(holder.forward(model, [promptIds.slice(past)]), [promptIds]); // [1 or n rows × vocab]
  prefillMs = now() - start;
  if (n > 1)
    holder.replace(
      holder.live.repeat(n),
      Array.from({ length: n }, () => [...promptIds]),
    ); // every sequence continues from the same prompt

  decoding: for (let step = 0; ; step++) {
    for (let s = 0; s < n; s++) {
      const seq = sequences[s];
      if (seq.finishReason) continue;
      if (signal?.aborted) break decoding;
      const row = read.scores.length === vocabSize ? 0 : s; // the prefill row is shared by all sequences
      // Ids past the tokenizer's (a padded vocabulary's) are never candidates.
      const scores = Float64Array.from(read.scores.subarray(row * vocabSize, row * vocabSize + Math.min(vocabSize, GPT2_VOCAB_SIZE)));
      checkFiniteLogits(scores, s, step, n);
      applyProcessors(processors, scores, needsHistory ? promptIds.concat(seq.ids) : []);
      const draw = sampling ? randoms[s].nextFloat() : null;
      const tokenId = draw === null ? argmax(scores) : sampleAt(scores, draw);
      const inspection = read.steps && inspectionOf(read.steps[row], read.scores, row, vocabSize, tokenId, draw);
      if (step === 0 && s === 0) firstTokenMs = now() - start;
      seq.ids.push(tokenId);

      const previousLength = seq.text.length;
      let text = stopping.isEos(tokenId) ? '' : seq.decoder.push(tokenId);
      seq.finishReason = stopping.check(tokenId, seq.ids.length, seq.text + text, previousLength);
      if (seq.finishReason) text += seq.decoder.flush(); // a character left incomplete shows as U+FFFD
      seq.text += text;
      const event: TokenEvent = { sequence: s, tokenId, text, index: step, elapsedMs: now() - start };
      if (seq.finishReason) event.finishReason = seq.finishReason;
      if (inspection) event.inspection = inspection;
      yield event;
    }
    if (step === 0) {
      firstStepTokens = n;
      decodeStart = now();
    }
    if (sequences.every((seq) => seq.finishReason)) break;

    await nextMacrotask(); // lets an abort (or a UI message) in between steps
    if (signal?.aborted) break decoding;
    // Finished sequences keep their batch row (fed their last token); their logits are ignored.
    read = await readLogits(
      holder.forward(
        model,
        sequences.map((seq) => [seq.ids[seq.ids.length - 1]]),
      ),
      sequences.map((seq) => promptIds.concat(seq.ids)),
    );
  }
  return result();
}

/** One forward pass's logits as the loop reads them: rows of scores, and their summaries when inspecting. */
interface LogitsRead {
  /** [rows × vocab]; ids not read back (GPU top-k) are -Infinity. */
  scores: Float32Array;
  /** One summary per row, with inspectTop; null otherwise. */
  steps: StepLogits[] | null;
}

/**
 * How the loop reads logits back. On WebGPU, when nothing before top-k looks at the other logits
 * (no repetition penalty; greedy, or sampling with top_k > 0), only each row's top-k candidates
 * (GPT2.topK, ties at the k-th value included), or with `inspectTop` its summary (summarizeLogits:
 * top logits, log-sum-exp, histogram), are read back, and every other logit reads as -Infinity: the
 * processors and the sampler then see exactly the scores top-k would have left them, so the tokens
 * are the same. Otherwise every logit is read back (and summarised on the CPU when inspecting).
 * `histories[b]` is row b's sequence so far, which a summary lists for the repetition penalty.
 */
function logitsReader(
  model: GenerationModel,
  o: ResolvedGenerationOptions,
  sampling: boolean,
  inspectTop: number,
): (logits: tf.Tensor2D, histories: number[][]) => Promise<LogitsRead> {
  const k = sampling ? o.top_k : 1;
  const vocabSize = model.config.vocabSize;
  // A padded vocabulary's extra ids could take top-k places that sampling never uses.
  const topKOnGPU =
    model.topK !== undefined && tf.getBackend() === 'webgpu' && o.repetition_penalty === 1 && k > 0 && vocabSize <= GPT2_VOCAB_SIZE;
  const topOnly = (rows: { ids: ArrayLike<number>; values: ArrayLike<number> }[]): Float32Array => {
    const scores = new Float32Array(rows.length * vocabSize).fill(-Infinity);
    rows.forEach(({ ids, values }, b) => {
      for (let j = 0; j < ids.length; j++) scores[b * vocabSize + ids[j]] = values[j];
    });
    return scores;
  };
  const tokenizerIds = Math.min(vocabSize, GPT2_VOCAB_SIZE);
  return async (logits, histories) => {
    try {
      if (topKOnGPU && inspectTop >= k) {
        const steps = await summarizeLogits(logits, inspectTop, histories);
        return {
          scores: topOnly(steps.map((step) => ({ ids: step.ids.subarray(0, step.top), values: step.logits.subarray(0, step.top) }))),
          steps,
        };
      }
      if (topKOnGPU && inspectTop === 0) return { scores: topOnly(await model.topK!(logits, k)), steps: null };
      const scores = (await logits.data()) as Float32Array;
      const steps =
        inspectTop === 0
          ? null
          : histories.map((history, b) => summarizeRow(scores.subarray(b * vocabSize, b * vocabSize + tokenizerIds), inspectTop, history));
      return { scores, steps };
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
