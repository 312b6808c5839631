/** `logits --ids 1,2,3`: the model's next-token logits after a sequence of ids. */
import * as tf from '@tensorflow/tfjs';
import { decode } from '../../tokenizer';
import { MODEL_OPTIONS, MODEL_USAGE, backendOption, modelLoadOption, idsOption, parseOptions, requireString } from '../args';
import type { CliCommand } from '../command';
import { startBackend, withModel } from '../runtime';

const USAGE = `usage: logits --ids ID,ID,... ${MODEL_USAGE}`;
const TOP_SHOWN = 10;

export const logitsCommand: CliCommand = {
  name: 'logits',
  summary: "print the last position's logits for --ids (all of them with --json, the top 10 otherwise)",
  async run(argv) {
    const values = parseOptions(argv, { ...MODEL_OPTIONS, ids: { type: 'string' } }, USAGE);
    const ids = idsOption(requireString(values.ids, 'ids', USAGE), 'ids', USAGE);
    const precision = modelLoadOption(values, USAGE);
    await startBackend(backendOption(values.backend, USAGE));

    const logits = await withModel(
      values.model,
      async (model) => {
        const cache = model.newCache(1, Math.max(1, Math.min(ids.length, model.config.nPositions)));
        try {
          const last = model.forward([ids], cache); // [1, vocab]
          const values = await last.data();
          tf.dispose(last);
          return Array.from(values);
        } finally {
          cache.dispose();
        }
      },
      precision,
    );

    if (values.json) {
      console.log(JSON.stringify({ logits }));
    } else {
      const top = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, TOP_SHOWN);
      for (const id of top)
        console.log(`${String(id).padStart(6)}  ${logits[id].toFixed(4).padStart(10)}  ${JSON.stringify(decode([id]))}`);
    }
    return 0;
  },
};
