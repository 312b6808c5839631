/**
 * The quality rows: the built-in model's held-out loss in each precision (the model card's four
 * held-out stories, context 256, wasm), the fixture's greedy tokens under f16, and the worst q8
 * logit error against the derived tolerance (tests/helpers/precision.ts). One `RESULT {json}` line.
 * Usage: tsx bench/node/quality.ts
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setupNodeBackend } from '../../src/backend/node';
import { windowedLoss } from '../../src/cli/commands/loss';
import { GPT2 } from '../../src/model/gpt2';
import type { WeightPrecision } from '../../src/model/weights';
import { encode } from '../../src/tokenizer';
import { greedyThroughCache } from '../../tests/helpers/engineSuite';
import { fixtureConfigJson, fixtureExpected, fixtureSafetensors } from '../../tests/helpers/fixture';
import { q8LogitTolerance, worstShare } from '../../tests/helpers/precision';
import { repoRoot, sharedDir } from '../models';

export interface QualityResult {
  heldOutTokens: number;
  loss: Record<WeightPrecision, number>;
  f16GreedyCases: { matching: number; total: number };
  q8Logits: { fixtureWorst: number; fixtureTolerance: number; builtInWorst: number; builtInTolerance: number };
}

const log = (line: string) => process.stderr.write(`[quality] ${line}\n`);

async function lastRows(model: GPT2, ids: number[]): Promise<Float32Array> {
  const all = model.forwardAll(ids);
  const values = (await all.data()) as Float32Array;
  all.dispose();
  return values;
}

async function main(): Promise<void> {
  await setupNodeBackend('wasm');
  const dir = path.join(repoRoot, 'public/models/sherlock-gpt2');
  const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const bytes = readFileSync(path.join(dir, 'model.safetensors'));
  const corpus = readFileSync(path.join(sharedDir, 'corpus/sherlock-holmes-canon.txt'), 'utf8');
  const heldOut = encode(corpus.slice(corpus.indexOf('\nTHE ADVENTURE OF THE CREEPING MAN\n') + 1));
  const loss = {} as Record<WeightPrecision, number>;
  const builtIn = {} as Record<WeightPrecision, GPT2>;
  for (const precision of ['f32', 'q8', 'f16'] as const) {
    builtIn[precision] = await GPT2.fromFiles(
      config,
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      { precision },
    );
    loss[precision] = (await windowedLoss(builtIn[precision], heldOut, 256)).loss;
    log(`built-in ${precision}: ${loss[precision].toFixed(5)} nats/token`);
  }
  const V = config.vocab_size;
  const window = heldOut.slice(0, 256);
  const [q8Rows, f32Rows] = [await lastRows(builtIn.q8, window), await lastRows(builtIn.f32, window)];
  let builtInWorst = 0;
  for (let t = 0; t < window.length; t++)
    builtInWorst = Math.max(builtInWorst, worstShare(q8Rows.subarray(t * V, (t + 1) * V), f32Rows.subarray(t * V, (t + 1) * V)));
  Object.values(builtIn).forEach((m) => m.dispose());

  const fixture = {} as Record<WeightPrecision, GPT2>;
  for (const precision of ['f32', 'q8', 'f16'] as const)
    fixture[precision] = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors(), { precision });
  const cases = fixtureExpected().cases;
  let matching = 0;
  let fixtureWorst = 0;
  for (const c of cases) {
    if (JSON.stringify(await greedyThroughCache(fixture.f16, c.input_ids, c.greedy_ids.length)) === JSON.stringify(c.greedy_ids))
      matching++;
    const last = (rows: Float32Array) => rows.subarray((c.input_ids.length - 1) * 50257);
    fixtureWorst = Math.max(
      fixtureWorst,
      worstShare(last(await lastRows(fixture.q8, c.input_ids)), last(await lastRows(fixture.f32, c.input_ids))),
    );
  }
  Object.values(fixture).forEach((m) => m.dispose());
  const result: QualityResult = {
    heldOutTokens: heldOut.length,
    loss,
    f16GreedyCases: { matching, total: cases.length },
    q8Logits: { fixtureWorst, fixtureTolerance: q8LogitTolerance(2), builtInWorst, builtInTolerance: q8LogitTolerance(config.n_layer) },
  };
  log(JSON.stringify(result));
  console.log('RESULT ' + JSON.stringify(result));
  tf.disposeVariables();
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`failed: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
