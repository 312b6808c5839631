/** `tokenize --text T [--json]`: GPT-2 token ids of a text. */
import { encode } from '../../tokenizer';
import { parseOptions, requireString } from '../args';
import type { CliCommand } from '../command';

const USAGE = 'usage: tokenize --text TEXT [--json]';

export const tokenizeCommand: CliCommand = {
  name: 'tokenize',
  summary: 'print the GPT-2 token ids of --text',
  async run(argv) {
    const values = parseOptions(argv, { text: { type: 'string' }, json: { type: 'boolean', default: false } }, USAGE);
    const ids = encode(requireString(values.text, 'text', USAGE));
    console.log(values.json ? JSON.stringify({ ids }) : ids.join(' '));
    return 0;
  },
};
