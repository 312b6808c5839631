/**
 * `attention --ids 1,2,3`: the softmaxed causal attention of every layer and head for a sequence
 * of ids (the analysis pass, GPT2.attentionLayers: one layer's probabilities in memory at a time).
 *
 *   --json   {"attention": [layer][head][query][key]}: each query row sums to 1, and every key
 *            after the query (the future) is exactly 0. Printed layer by layer.
 *   else     per layer and head, each query token with the three keys it attends to most.
 */
import type { GPT2 } from '../../model';
import { decode } from '../../tokenizer';
import { MODEL_OPTIONS, MODEL_USAGE, backendOption, idsOption, parseOptions, requireString } from '../args';
import type { CliCommand } from '../command';
import { float32, quoted, writeOut } from '../output';
import { startBackend, withModel } from '../runtime';

const USAGE = `usage: attention --ids ID,ID,... ${MODEL_USAGE}`;
/** Keys listed per query in the text output. */
const KEYS_SHOWN = 3;

/** One layer's probabilities [H, T, T] read back as [head][query][key]. */
export type LayerAttention = number[][][];

/** Calls `onLayer` with each layer's attention in turn; only that layer is held. */
export async function eachLayerAttention(
  model: GPT2,
  ids: number[],
  onLayer: (layer: number, heads: LayerAttention) => Promise<void>,
): Promise<void> {
  let layer = 0;
  for (const probs of model.attentionLayers(ids)) {
    const [H, T] = probs.shape;
    let values: Float32Array;
    try {
      values = (await probs.data()) as Float32Array;
    } finally {
      probs.dispose();
    }
    const heads = Array.from({ length: H }, (_, h) =>
      Array.from({ length: T }, (_, q) => Array.from(values.subarray((h * T + q) * T, (h * T + q + 1) * T), float32)),
    );
    await onLayer(layer++, heads);
  }
}

export const attentionCommand: CliCommand = {
  name: 'attention',
  summary: "print every layer's and head's attention probabilities for --ids ([layer][head][query][key] with --json)",
  async run(argv) {
    const values = parseOptions(argv, { ...MODEL_OPTIONS, ids: { type: 'string' } }, USAGE);
    const ids = idsOption(requireString(values.ids, 'ids', USAGE), 'ids', USAGE);
    await startBackend(backendOption(values.backend, USAGE));

    await withModel(values.model, async (model) => {
      const texts = ids.map((id) => (id < model.config.vocabSize ? quoted(decode([id])) : '?'));
      let printed = 0;
      await eachLayerAttention(model, ids, async (layer, heads) => {
        if (values.json) {
          await writeOut(layer === 0 ? '{"attention":[' : ',');
          for (let h = 0; h < heads.length; h++) await writeOut((h === 0 ? '[' : ',') + JSON.stringify(heads[h]));
          await writeOut(']');
        } else {
          await writeOut(layerTable(layer, model.config.nLayer, heads, texts));
        }
        printed++;
      });
      if (values.json && printed > 0) await writeOut(']}\n');
    });
    return 0;
  },
};

/** Text output for one layer: per head, each query and its most-attended keys. */
function layerTable(layer: number, nLayer: number, heads: LayerAttention, texts: string[]): string {
  const width = Math.max(...texts.map((t) => t.length));
  const lines: string[] = [];
  heads.forEach((rows, h) => {
    lines.push(`layer ${layer + 1}/${nLayer}, head ${h + 1}/${heads.length}: query → the ${KEYS_SHOWN} keys it attends to most`);
    rows.forEach((row, q) => {
      const keys = row
        .slice(0, q + 1)
        .map((p, k) => ({ p, k }))
        .sort((a, b) => b.p - a.p || a.k - b.k)
        .slice(0, KEYS_SHOWN);
      const shown = keys.map(({ p, k }) => `${String(k).padStart(4)} ${texts[k]} ${p.toFixed(3)}`).join('   ');
      lines.push(`${String(q).padStart(5)} ${texts[q].padEnd(width)} →${shown}`);
    });
  });
  return lines.join('\n') + '\n';
}
