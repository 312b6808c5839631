/**
 * The decoding loop: prefill the prompt once, then one forward pass per new token for all
 * sequences together, yielding every token the moment it is chosen.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT2 } from '../model/gpt2';
import type { KVCache } from '../model/kvCache';
import { encode } from '../tokenizer/tokenizer';
import { StreamDecoder } from '../tokenizer/streamDecoder';
import { GPT2_VOCAB_SIZE } from '../tokenizer/vocabulary';
import { checkFiniteLogits } from './finiteLogits';
import { applyProcessors, buildLogitsProcessors } from './logitsProcessors';
import {
  GenerationOptionError, isSampling, validateOptions, type GenerationOptions, type ResolvedGenerationOptions,
} from './options';
import { randomSeed, Xoshiro128StarStar } from './random';
import { argmax, sample } from './sampler';
import { StoppingCriteria, type FinishReason } from './stopping';

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
      throw new GenerationOptionError('max_length', options.max_length,
        `it counts the prompt, which is already ${promptIds.length} tokens long; ` +
        `set max_length above ${promptIds.length} or use max_new_tokens`);
    }
  }
  if (maxNewTokens > nPositions - 1) {
    warnings.push(`${maxNewTokens} new tokens do not fit in this model's context of ${nPositions} tokens; ` +
      `generating at most ${nPositions - 1} (the context must also hold at least one prompt token).`);
    maxNewTokens = nPositions - 1;
  }
  const room = nPositions - maxNewTokens;
  const droppedPromptTokens = Math.max(0, promptIds.length - room);
  if (droppedPromptTokens > 0) {
    warnings.push(`The prompt (${promptIds.length} tokens) plus ${maxNewTokens} new tokens exceed the ` +
      `context of ${nPositions} tokens: the first ${droppedPromptTokens} prompt tokens were left out.`);
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
  signal?: AbortSignal,
): AsyncGenerator<TokenEvent, GenerationResult, void> {
  const start = now();
  const o = validateOptions(options);
  const { vocabSize, nPositions, bosTokenId } = model.config;
  const eosTokenId = o.eos_token_id === undefined ? model.config.eosTokenId : o.eos_token_id;
  if (eosTokenId !== null && eosTokenId >= vocabSize) {
    throw new GenerationOptionError('eos_token_id', eosTokenId, `expected an id below the vocabulary size ${vocabSize}`);
  }
  const encoded = typeof prompt === 'string' ? encode(prompt) : [...prompt];
  const plan = planGeneration(encoded.length > 0 ? encoded : [bosTokenId], o, nPositions);
  const { promptIds, maxNewTokens } = plan;

  const n = o.num_return_sequences;
  const sampling = isSampling(o);
  const seed = sampling ? (o.seed ?? randomSeed()) : null;
  const randoms = sampling ? Array.from({ length: n }, (_, i) => Xoshiro128StarStar.fromSeed(seed!, i)) : [];
  const processors = buildLogitsProcessors(o);
  const needsHistory = o.repetition_penalty !== 1;
  const readLogits = logitsReader(model, o, sampling);
  const stopping = new StoppingCriteria(maxNewTokens, eosTokenId, o.stop);
  const sequences: SequenceState[] = Array.from({ length: n }, () => ({
    ids: [], text: '', decoder: new StreamDecoder(), finishReason: null,
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
        prefillMs, firstTokenMs, totalMs, newTokens,
        decodeTokensPerSecond: decodeSeconds > 0 && decodeTokens > 0 ? decodeTokens / decodeSeconds : 0,
      },
      maxNewTokens,
      seed,
      warnings: plan.warnings,
    };
  };

  if (signal?.aborted) return result();
  let cache: KVCache = model.newCache(1, promptIds.length + maxNewTokens);
  try {
    let logits = await readLogits(model.forward([promptIds], cache)); // [1 or n rows × vocab]
    prefillMs = now() - start;
    if (n > 1) {
      const shared = cache;
      cache = shared.repeat(n); // every sequence continues from the same prompt
      shared.dispose();
    }

    decoding: for (let step = 0; ; step++) {
      for (let s = 0; s < n; s++) {
        const seq = sequences[s];
        if (seq.finishReason) continue;
        if (signal?.aborted) break decoding;
        const row = logits.length === vocabSize ? 0 : s; // the prefill row is shared by all sequences
        // Ids past the tokenizer's (a padded vocabulary's) are never candidates.
        const scores = Float64Array.from(logits.subarray(row * vocabSize, row * vocabSize + Math.min(vocabSize, GPT2_VOCAB_SIZE)));
        checkFiniteLogits(scores, s, step, n);
        applyProcessors(processors, scores, needsHistory ? promptIds.concat(seq.ids) : []);
        const tokenId = sampling ? sample(scores, randoms[s]) : argmax(scores);
        if (step === 0 && s === 0) firstTokenMs = now() - start;
        seq.ids.push(tokenId);

        const previousLength = seq.text.length;
        let text = stopping.isEos(tokenId) ? '' : seq.decoder.push(tokenId);
        seq.finishReason = stopping.check(tokenId, seq.ids.length, seq.text + text, previousLength);
        if (seq.finishReason) text += seq.decoder.flush(); // a character left incomplete shows as U+FFFD
        seq.text += text;
        const event: TokenEvent = { sequence: s, tokenId, text, index: step, elapsedMs: now() - start };
        if (seq.finishReason) event.finishReason = seq.finishReason;
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
      logits = await readLogits(model.forward(sequences.map((seq) => [seq.ids[seq.ids.length - 1]]), cache));
    }
  } finally {
    cache.dispose();
  }
  return result();
}

/** Reads logits back (async: WebGPU cannot read synchronously) and frees the tensor. */
async function readBack(logits: tf.Tensor): Promise<Float32Array> {
  try {
    return (await logits.data()) as Float32Array;
  } finally {
    logits.dispose();
  }
}

/**
 * On WebGPU, when nothing before top-k looks at the other logits (no repetition penalty; greedy,
 * or sampling with top_k > 0), only each row's top-k candidates are read back (GPT2.topK, ties
 * at the k-th value included) and every other logit reads as -Infinity: the processors and the
 * sampler then see exactly the scores top-k would have left them, so the tokens are the same.
 */
function logitsReader(
  model: GenerationModel, o: ResolvedGenerationOptions, sampling: boolean,
): (logits: tf.Tensor2D) => Promise<Float32Array> {
  const k = sampling ? o.top_k : 1;
  const topK = model.topK?.bind(model);
  const vocabSize = model.config.vocabSize;
  // A padded vocabulary's extra ids could take top-k places that sampling never uses.
  if (!topK || tf.getBackend() !== 'webgpu' || o.repetition_penalty !== 1 || k === 0 || vocabSize > GPT2_VOCAB_SIZE) return readBack;
  return async (logits) => {
    try {
      const rows = await topK(logits, k);
      const scores = new Float32Array(rows.length * vocabSize).fill(-Infinity);
      rows.forEach(({ ids, values }, b) => ids.forEach((id, j) => { scores[b * vocabSize + id] = values[j]; }));
      return scores;
    } finally {
      logits.dispose();
    }
  };
}

function now(): number {
  return performance.now();
}

/** A real macrotask (not a microtask), so queued messages and abort events get handled. */
function nextMacrotask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
