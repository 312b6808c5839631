// Tokenizes the Sherlock Holmes canon with GPT-2's BPE (gpt-tokenizer, r50k_base) and splits it
// into a training part and a held-out validation part made of whole stories at the end of the file.
//
//   node tools/train/tokenize.mjs [corpus.txt] [outDir]
//
// Writes outDir/train.bin and outDir/val.bin (uint16 little-endian token ids), outDir/val.txt (the
// held-out text, so the app's own engine can measure loss on exactly the same tokens) and
// outDir/split.json (what went where).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from 'gpt-tokenizer/encoding/r50k_base';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpusPath = process.argv[2] ?? path.resolve(here, '../../../shared/corpus/sherlock-holmes-canon.txt');
const outDir = process.argv[3] ?? path.join(here, 'out');

// The last four stories of the canon (The Case-Book) never reach the optimizer.
const VALIDATION_STARTS_AT = '\nTHE ADVENTURE OF THE CREEPING MAN\n';

const text = readFileSync(corpusPath, 'utf8');
const cut = text.indexOf(VALIDATION_STARTS_AT);
if (cut < 0) throw new Error(`${corpusPath}: heading ${JSON.stringify(VALIDATION_STARTS_AT.trim())} not found`);
const trainText = text.slice(0, cut + 1); // keep the newline that ends the previous story
const valText = text.slice(cut + 1); // starts at the heading itself

function toUint16(ids) {
  const out = new Uint16Array(ids.length);
  ids.forEach((id, i) => {
    if (id > 0xffff) throw new Error(`token id ${id} does not fit in uint16`);
    out[i] = id;
  });
  return out;
}

const trainIds = encode(trainText);
const valIds = encode(valText);
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'train.bin'), toUint16(trainIds));
writeFileSync(path.join(outDir, 'val.bin'), toUint16(valIds));
writeFileSync(path.join(outDir, 'val.txt'), valText);
const split = {
  corpus: path.basename(corpusPath),
  tokenizer: 'gpt-tokenizer r50k_base (GPT-2 BPE)',
  validation:
    'whole stories from "THE ADVENTURE OF THE CREEPING MAN" to the end of the file (The Creeping Man, The Lion\'s Mane, The Veiled Lodger, Shoscombe Old Place)',
  trainChars: trainText.length,
  valChars: valText.length,
  trainTokens: trainIds.length,
  valTokens: valIds.length,
  valFraction: valIds.length / (trainIds.length + valIds.length),
};
writeFileSync(path.join(outDir, 'split.json'), JSON.stringify(split, null, 2) + '\n');
console.log(JSON.stringify(split, null, 2));
