/**
 * `lens --ids 1,2,3`: the logit lens (GPT2.logitLens): what the model would predict next at each
 * position if it stopped after each layer (ln_f and the head applied to that layer's residual
 * stream), as the top 5 (--top K) tokens with their log-probabilities.
 *
 *   --json   {"layers": [layer][position] -> [{id, logprob}, ...]}, best first
 *   else     per position, a row per layer: the tokens and their log-probabilities
 */
import { decode } from '../../tokenizer';
import type { LensEntry } from '../../model/gpt2';
import { MODEL_OPTIONS, MODEL_USAGE, backendOption, idsOption, integerOption, parseOptions, requireString } from '../args';
import type { CliCommand } from '../command';
import { float32, quoted, writeOut } from '../output';
import { startBackend, withModel } from '../runtime';

const USAGE = `usage: lens --ids ID,ID,... [--top K] ${MODEL_USAGE}`;
const DEFAULT_TOP = 5;
/** The most tokens per layer and position --top takes (a table, not a dump). */
const MAX_TOP = 100;

export const lensCommand: CliCommand = {
  name: 'lens',
  summary: 'logit lens for --ids: the top 5 next tokens after each layer at each position ([layer][position] with --json)',
  async run(argv) {
    const values = parseOptions(argv, { ...MODEL_OPTIONS, ids: { type: 'string' }, top: { type: 'string' } }, USAGE);
    const ids = idsOption(requireString(values.ids, 'ids', USAGE), 'ids', USAGE);
    const top = integerOption(values.top, 'top', USAGE, DEFAULT_TOP, 1, MAX_TOP);
    await startBackend(backendOption(values.backend, USAGE));

    const layers = await withModel(values.model, (model) => model.logitLens(ids, top));
    if (values.json) {
      const rounded = layers.map((positions) =>
        positions.map((entries) => entries.map(({ id, logprob }) => ({ id, logprob: float32(logprob) }))),
      );
      await writeOut(`${JSON.stringify({ layers: rounded })}\n`);
    } else {
      await writeOut(lensTable(layers, ids));
    }
    return 0;
  },
};

/** Per position: the token, then one row per layer of its predictions (natural-log probabilities). */
function lensTable(layers: LensEntry[][][], ids: number[]): string {
  const lines: string[] = [];
  ids.forEach((id, t) => {
    lines.push(`position ${t} ${quoted(decode([id]))}: next token after each layer (log-probability)`);
    layers.forEach((positions, layer) => {
      const cells = positions[t].map((e) => `${quoted(decode([e.id])).padEnd(14)} ${e.logprob.toFixed(3).padStart(8)}`);
      lines.push(`  layer ${String(layer + 1).padStart(2)}  ${cells.join('  ')}`);
    });
  });
  return lines.join('\n') + '\n';
}
