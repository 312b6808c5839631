/**
 * One Node measurement in its own process (so peak RSS belongs to it): a backend, a model, the
 * options. Prints progress on stderr and one `RESULT {json}` line on stdout.
 * Usage: tsx bench/node/runModel.ts '{"backend":"wasm","model":"124m",...}'
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setupNodeBackend, isNodeBackend } from '../../src/backend/node';
import { GPT2 } from '../../src/model/gpt2';
import { benchModel, matmulCeiling, pairedRuns, type ModelBenchOptions } from '../core';
import { benchModel as modelFiles, type ModelName } from '../models';
import type { WeightPrecision } from '../../src/model/weights';
import { loadModelArg } from '../../src/cli/modelArg';
import { availableMatmulBuilds } from '../../src/backend/simd/matmul';

/** Models read the way the CLI reads a folder (streamed), rather than as one ArrayBuffer. */
const STREAMED: ModelName[] = ['medium', 'large', 'xl'];

export interface NodeRunRequest {
  backend: string;
  model: ModelName;
  /** Precision of the matrices (default f32). */
  precision?: WeightPrecision;
  options: Omit<ModelBenchOptions, 'log' | 'dispatchCount'>;
  /** Also time the 124M step's matmuls alone. */
  ceiling?: boolean;
  /**
   * Instead of `options`: the model loaded once per entry, its q8 / f16 kernels on that many
   * threads (as the CLI's --threads), measured in turns (pairedRuns in bench/core.ts).
   */
  paired?: { kernelThreads: number[]; rounds: number; newTokens: number; prefillLength: number };
}

const request = JSON.parse(process.argv[2] ?? '{}') as NodeRunRequest;
const log = (line: string) => process.stderr.write(`[node ${request.backend} ${request.model}] ${line}\n`);

async function main(): Promise<void> {
  if (!isNodeBackend(request.backend)) throw new Error(`unknown Node backend '${request.backend}'`);
  const info = await setupNodeBackend(request.backend);
  if (tf.getBackend() !== request.backend) throw new Error(`tfjs is on ${tf.getBackend()}, not ${request.backend}`);
  const files = modelFiles(request.model);

  const ceiling = request.ceiling ? await matmulCeiling(5, 12, 50257, log) : undefined;

  if (request.paired) {
    const configJson = JSON.parse(readFileSync(path.join(files.dir, 'config.json'), 'utf8'));
    const bytes = readFileSync(path.join(files.dir, 'model.safetensors'));
    const weights = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const sides: { label: string; model: GPT2 }[] = [];
    for (const threads of request.paired.kernelThreads) {
      const model = await GPT2.fromFiles(configJson, weights, { precision: request.precision, threads });
      await model.warmUp();
      sides.push({ label: `${threads} thread${threads === 1 ? '' : 's'}`, model });
    }
    const measured = await pairedRuns(sides, { ...request.paired, log });
    const paired = measured.map((side, i) => ({ ...side, kernelThreads: sides[i].model.storeThreads ?? 0 }));
    const precision = sides[0].model.precision;
    for (const { model } of sides) model.dispose();
    const matmulBuild = availableMatmulBuilds()[0];
    console.log(
      'RESULT ' + JSON.stringify({ where: 'node', backend: request.backend, model: request.model, precision, matmulBuild, paired }),
    );
    return;
  }

  let model: GPT2;
  let readMs = 0;
  let loadMs: number;
  let warmUpMs: number | undefined;
  if (STREAMED.includes(request.model)) {
    // Big checkpoints load as the CLI loads them: streamed from disk tensor by tensor (so peak
    // memory is the engine's, not a copy of the file), warm-up included.
    const t0 = performance.now();
    model = (await loadModelArg(files.dir, { precision: request.precision ?? 'auto', cacheDir: null, onProgress: () => {} })).model;
    loadMs = performance.now() - t0;
  } else {
    const t0 = performance.now();
    const configJson = JSON.parse(readFileSync(path.join(files.dir, 'config.json'), 'utf8'));
    const bytes = readFileSync(path.join(files.dir, 'model.safetensors'));
    readMs = performance.now() - t0;
    const t1 = performance.now();
    model = await GPT2.fromFiles(configJson, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, {
      precision: request.precision,
    });
    loadMs = performance.now() - t1;
    const t2 = performance.now();
    await model.warmUp(); // as loadModel does before it reports a model ready
    warmUpMs = performance.now() - t2;
  }
  log(
    `loaded as ${model.precision} in ${loadMs.toFixed(0)} ms (read ${readMs.toFixed(0)} ms), warm-up ${warmUpMs?.toFixed(0) ?? 'included'} ms`,
  );
  const precision = model.precision;

  const result = await benchModel(model, { ...request.options, log });
  model.dispose();
  const usage = process.resourceUsage();
  console.log(
    'RESULT ' +
      JSON.stringify({
        where: 'node',
        backend: request.backend,
        adapter: info.adapter,
        model: request.model,
        modelDescription: files.description,
        precision,
        readMs,
        loadMs,
        warmUpMs,
        ...result,
        ceiling,
        peakRssMb: usage.maxRSS / 1024,
        threads: 1,
      }),
  );
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`failed: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
