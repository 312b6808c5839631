/**
 * What verifying the cache costs: the GPT-2-124M-shaped checkpoint downloaded once from a local hub
 * server into a FileSystemModelCache, then loaded from that cache with each piece's length and
 * SHA-256 checked as it streams (the default) and without (verifyCache: false), alternating, in the
 * same process. Also the streaming SHA-256's own speed over the cached bytes. One `RESULT {json}` line.
 * Usage: tsx bench/node/cacheVerify.ts [runs]   (default 3 loads each way)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setupNodeBackend } from '../../src/backend/node';
import { parseModelSpec } from '../../src/sources';
import { FileSystemModelCache } from '../../src/sources/fsCache';
import { loadModel } from '../../src/sources/loadModel';
import { Sha256 } from '../../src/sources/sha256';
import { startHubServer } from '../../tests/helpers/hubServer';
import { benchModel } from '../models';

export interface CacheVerifyResult {
  model: string;
  /** Bytes of the cached (compacted) weights read per load. */
  cachedBytes: number;
  runs: number;
  /** Median load time from the cache, ms, warm-up excluded. */
  verifiedMs: number;
  uncheckedMs: number;
  /** The streaming SHA-256 alone over the same number of bytes, MB/s. */
  sha256MBps: number;
}

const log = (line: string) => process.stderr.write(`[cache-verify] ${line}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  await setupNodeBackend('cpu');
  const model = benchModel('124m');
  const [config, weights] = await Promise.all(['config.json', 'model.safetensors'].map((f) => readFile(path.join(model.dir, f))));
  const hub = await startHubServer({ repos: { 'bench/gpt2-124m': { 'config.json': config, 'model.safetensors': weights } } });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt2-cache-verify-'));
  try {
    const cache = new FileSystemModelCache(dir);
    const options = { hubUrl: hub.url, cache, warmUp: false, precision: 'f32' as const };
    const spec = parseModelSpec('hf:bench/gpt2-124m');
    log('downloading into the cache once ...');
    (await loadModel(spec, options)).model.dispose();
    const cachedBytes = (await cache.list())[0].files
      .filter((f) => f.file.startsWith('model.safetensors.'))
      .reduce((n, f) => n + f.bytes, 0);
    const times = { verified: [] as number[], unchecked: [] as number[] };
    for (let run = 0; run < runs; run++) {
      for (const verify of run % 2 === 0 ? [true, false] : [false, true]) {
        const started = performance.now();
        const loaded = await loadModel(spec, { ...options, verifyCache: verify });
        const ms = performance.now() - started;
        if (loaded.origin !== 'cache' || loaded.cacheNote)
          throw new Error(`expected a clean load from the cache, got ${loaded.origin} ${loaded.cacheNote ?? ''}`);
        loaded.model.dispose();
        times[verify ? 'verified' : 'unchecked'].push(ms);
        log(`${verify ? 'verified' : 'unchecked'}: ${ms.toFixed(0)} ms`);
      }
    }
    const chunk = new Uint8Array(1 << 20).map((_, i) => i * 7);
    const hasher = new Sha256();
    const started = performance.now();
    for (let done = 0; done < cachedBytes; done += chunk.byteLength) hasher.update(chunk);
    hasher.digest();
    const sha256MBps = cachedBytes / 1e6 / ((performance.now() - started) / 1000);
    const result: CacheVerifyResult = {
      model: model.description,
      cachedBytes,
      runs,
      verifiedMs: median(times.verified),
      uncheckedMs: median(times.unchecked),
      sha256MBps,
    };
    log(JSON.stringify(result));
    console.log('RESULT ' + JSON.stringify(result));
  } finally {
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
    tf.disposeVariables();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    log(`failed: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
