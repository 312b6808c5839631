/**
 * Limits on what a checkpoint may make the loader do, checked before anything is sized from it:
 * a config.json is small, and the sizes it states must fit in the weights file they come with.
 */
import type { GPT2Config } from '../model/config';
import { mlpWidth } from '../model/config';
import type { SafetensorsHeader } from '../model/safetensors';
import { ModelSourceError, formatBytes } from './errors';

/** A GPT-2 config.json is a few hundred bytes; anything over this is refused unread. */
export const MAX_CONFIG_BYTES = 1_000_000;

/** The smallest a weight can be stored in (F16, BF16). */
const MIN_BYTES_PER_WEIGHT = 2;

/**
 * A GPT-2 with `config` has at least this many weights in its file (wte, wpe, the blocks, ln_f;
 * the head may be tied), each at least 2 bytes. Computed in floating point, so an absurd size
 * (n_layer 10⁷) costs nothing: refusing it happens before any tensor list is made.
 */
export function checkConfigFitsWeights(config: GPT2Config, header: SafetensorsHeader, file: string, configFile = 'config.json'): void {
  const C = config.nEmbd;
  const inner = mlpWidth(config);
  const perLayer = 4 * C * C + 2 * C * inner + 9 * C + inner;
  const terms: [field: string, value: number, weights: number][] = [
    ['vocab_size', config.vocabSize, config.vocabSize * C],
    ['n_positions', config.nPositions, config.nPositions * C],
    ['n_layer', config.nLayer, config.nLayer * perLayer],
  ];
  const needed = MIN_BYTES_PER_WEIGHT * (terms.reduce((n, [, , w]) => n + w, 0) + 2 * C);
  const dataBytes = header.tensors.reduce((n, t) => Math.max(n, t.end), 0);
  if (needed <= dataBytes) return;
  // Name the size to blame: the width when one block alone cannot fit, else the biggest part.
  let [field, value] = terms.reduce((a, b) => (b[2] > a[2] ? b : a));
  if (MIN_BYTES_PER_WEIGHT * perLayer > dataBytes) [field, value] = inner > 4 * C ? ['n_inner', inner] : ['n_embd', C];
  const width = field === 'n_embd' ? '' : ` (with n_embd ${C})`;
  throw new ModelSourceError(
    'corrupt',
    `${configFile} says ${field} ${value}${width}, which needs at least ${formatBytes(needed)} of weights, but ${file} holds ${formatBytes(dataBytes)}: ` +
      `the config and the weights do not belong together. Use the config.json that came with this ${file}.`,
  );
}
