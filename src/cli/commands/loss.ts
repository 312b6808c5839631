/**
 * `loss --file TEXTFILE`: mean next-token cross-entropy of the model on a text, in nats per token.
 *
 * The text is cut into consecutive, non-overlapping windows of --context tokens (the last may be
 * shorter); inside each window every token but the first is predicted from the ones before it.
 * tools/train/gpt2.py `window_loss` measures the same way, so the trainer's validation loss and
 * this engine's can be compared figure for figure.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import type { GPT2 } from '../../model';
import { encode } from '../../tokenizer';
import { MODEL_OPTIONS, MODEL_USAGE, backendOption, modelLoadOption, integerOption, parseOptions, requireString } from '../args';
import { UsageError, type CliCommand } from '../command';
import { startBackend, withModel } from '../runtime';

const USAGE = `usage: loss --file TEXTFILE [--context N] ${MODEL_USAGE}`;

export interface LossResult {
  /** Mean cross-entropy, nats per predicted token. */
  loss: number;
  /** How many tokens were predicted (the text's tokens minus one per window). */
  tokens: number;
}

/** Summed negative log-likelihood of window[1..] given its prefix, accumulated in float64. */
async function windowNll(model: GPT2, window: number[]): Promise<number> {
  const vocab = model.config.vocabSize;
  const targets = window.slice(1);
  const nll = tf.tidy(() => {
    const logits = model.forwardAll(window.slice(0, -1)); // [T-1, vocab]
    const logProbs = tf.logSoftmax(logits); // [T-1, vocab]
    const flatTargets = tf.tensor1d(
      targets.map((id, t) => t * vocab + id),
      'int32',
    ); // [T-1]
    return tf.gather(logProbs.reshape([-1]), flatTargets).neg(); // [T-1]
  });
  const values = (await nll.data()) as Float32Array;
  nll.dispose();
  return values.reduce((sum, v) => sum + v, 0);
}

/** Mean loss over non-overlapping `context`-token windows of `ids`. */
export async function windowedLoss(model: GPT2, ids: number[], context: number): Promise<LossResult> {
  let total = 0;
  let tokens = 0;
  for (let start = 0; start < ids.length; start += context) {
    const window = ids.slice(start, start + context);
    if (window.length < 2) continue;
    total += await windowNll(model, window);
    tokens += window.length - 1;
  }
  if (tokens === 0) throw new RangeError('the text is shorter than 2 tokens: there is nothing to predict');
  return { loss: total / tokens, tokens };
}

export const lossCommand: CliCommand = {
  name: 'loss',
  summary: 'mean next-token cross-entropy (nats/token) on a text file, over non-overlapping --context windows',
  async run(argv) {
    const values = parseOptions(argv, { ...MODEL_OPTIONS, file: { type: 'string' }, context: { type: 'string' } }, USAGE);
    const file = requireString(values.file, 'file', USAGE);
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read --file ${file}: ${error.code ?? error.message}`, USAGE);
    });
    const dtype = modelLoadOption(values, USAGE);
    await startBackend(backendOption(values.backend, USAGE));

    const { result, context, precision } = await withModel(
      values.model,
      async (model) => {
        const nPositions = model.config.nPositions;
        const context = integerOption(values.context, 'context', USAGE, nPositions, 2, nPositions);
        return { result: await windowedLoss(model, encode(text), context), context, precision: model.precision };
      },
      dtype,
    );

    if (values.json) {
      console.log(JSON.stringify({ ...result, precision }));
    } else {
      console.log(
        `${result.loss.toFixed(4)} nats/token (perplexity ${Math.exp(result.loss).toFixed(2)}) ` +
          `over ${result.tokens} predicted tokens, context ${context}, ${precision} weights`,
      );
    }
    return 0;
  },
};
