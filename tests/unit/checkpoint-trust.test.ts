/**
 * Crafted checkpoints that used to load and then misbehave: NaN/Infinity weights (refused at load,
 * naming the file and tensor), weights that overflow while generating (stopped with a message), a
 * nanoGPT-padded vocabulary (loads, the padding ids are never sampled), a vocabulary smaller than
 * GPT-2's (refused at load), and the messages for files that are not safetensors at all.
 * The CLI runs in-process (main()) on copies of the tiny fixture written to a temporary folder.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { main } from '../../src/cli/main';
import { generate, NonFiniteLogitsError, type GenerationModel } from '../../src/generation';
import type { KVCache } from '../../src/model/kvCache';
import { firstNonFinite } from '../../src/model/nonFinite';
import type { TensorEntry } from '../../src/model/safetensors';
import { MemoryModelCache, ModelSourceError, parseModelSpec } from '../../src/sources';
import { loadModel } from '../../src/sources/loadModel';
import { EOS_TOKEN_ID } from '../../src/tokenizer/tokenizer';
import { fixtureConfigJson, fixtureDir, fixtureExpected } from '../helpers/fixture';
import { writeFixtureCopy } from '../helpers/fixtureCopy';
import { startHubServer, type HubServer } from '../helpers/hubServer';
import type { RawTensor } from '../helpers/safetensorsWriter';
import { useBackend } from '../helpers/webgpuNode';

let tmp: string;
beforeAll(async () => {
  await useBackend('cpu');
  tmp = mkdtempSync(path.join(os.tmpdir(), 'gpt2-trust-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('\n') };
  } finally {
    vi.restoreAllMocks();
  }
}

/** A copy of the fixture with one tensor's values edited (float32 in, float32 out). */
function withValues(name: string, edit: (values: Float32Array) => void): (tensors: RawTensor[]) => RawTensor[] {
  return (tensors) =>
    tensors.map((t) => {
      if (t.name !== name) return t;
      const values = new Float32Array(t.data.slice().buffer);
      edit(values);
      return { ...t, data: new Uint8Array(values.buffer) };
    });
}

/** The same tensor stored as BF16 (the top half of each float32). */
function asBF16(name: string): (tensors: RawTensor[]) => RawTensor[] {
  return (tensors) =>
    tensors.map((t) => {
      if (t.name !== name) return t;
      const words = new Uint32Array(t.data.slice().buffer);
      return { ...t, dtype: 'BF16', data: new Uint8Array(Uint16Array.from(words, (w) => w >>> 16).buffer) };
    });
}

function writeConfig(dir: string, patch: Record<string, unknown>): string {
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...fixtureConfigJson(), ...patch }));
  return dir;
}

describe('non-finite weights are refused as they stream in', () => {
  it('a NaN in an F32 tensor: the load fails naming the file, the tensor and where', async () => {
    const dir = writeFixtureCopy(path.join(tmp, 'nan'), { edit: withValues('h.1.mlp.c_fc.weight', (v) => (v[3 * 128 + 5] = NaN)) });
    const run = await cli(['generate', '--model', dir, '--prompt', 'Watson', '--greedy', '--json']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^error: .*model\.safetensors: tensor 'h\.1\.mlp\.c_fc\.weight' holds NaN at \[3, 5\]: the weights are broken/,
    );
    expect(run.stderr).not.toMatch(/download/i); // local files
  });

  it('-Infinity in a BF16 tensor is found too', async () => {
    const dir = writeFixtureCopy(path.join(tmp, 'inf'), {
      edit: (ts) => asBF16('h.0.attn.c_proj.weight')(withValues('h.0.attn.c_proj.weight', (v) => (v[40] = -Infinity))(ts)),
    });
    const run = await cli(['logits', '--model', dir, '--ids', '464']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/tensor 'h\.0\.attn\.c_proj\.weight' holds -Infinity at \[1, 8\]/);
  });

  it('from the hub: refused before anything is cached', async () => {
    const dir = writeFixtureCopy(path.join(tmp, 'nan-hub'), { edit: withValues('ln_f.bias', (v) => (v[0] = Infinity)) });
    const hub = await startHubServer({
      repos: {
        'org/broken': {
          'config.json': readFileSync(path.join(dir, 'config.json')),
          'model.safetensors': readFileSync(path.join(dir, 'model.safetensors')),
        },
      },
    });
    try {
      const cache = new MemoryModelCache();
      const error = await loadModel(parseModelSpec('hf:org/broken'), { hubUrl: hub.url, cache }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelSourceError);
      expect((error as ModelSourceError).kind).toBe('corrupt');
      expect((error as ModelSourceError).message).toMatch(/tensor 'ln_f\.bias' holds \+Infinity at \[0\]/);
      expect((await cache.list()).filter((m) => m.complete)).toEqual([]);
    } finally {
      await hub.stop();
    }
  });

  it('firstNonFinite reads every float dtype from raw bytes, aligned or not', () => {
    const entry = (dtype: string, n: number): TensorEntry => ({ name: 't', dtype, shape: [n], begin: 0, end: 0 });
    const f32 = new Uint8Array(Float32Array.from([1, -2, 3.4e38, Infinity, NaN]).buffer);
    expect(firstNonFinite(entry('F32', 5), f32)).toEqual({ index: 3, value: Infinity });
    const unaligned = new Uint8Array(f32.byteLength + 1);
    unaligned.set(f32, 1);
    expect(firstNonFinite(entry('F32', 5), unaligned.subarray(1))).toEqual({ index: 3, value: Infinity });
    // F16: 0x7bff is the largest finite half (65504), 0xfc00 is -Infinity, 0x7e00 NaN.
    expect(firstNonFinite(entry('F16', 3), new Uint8Array(Uint16Array.from([0x7bff, 0x3c00, 0xfc00]).buffer))).toEqual({
      index: 2,
      value: -Infinity,
    });
    expect(firstNonFinite(entry('F16', 2), new Uint8Array(Uint16Array.from([0x0001, 0x7e00]).buffer))!.index).toBe(1);
    // BF16: 0x7f7f is the largest finite, 0x7fc0 NaN.
    expect(firstNonFinite(entry('BF16', 2), new Uint8Array(Uint16Array.from([0x7f7f, 0xff7f]).buffer))).toBeNull();
    expect(Number.isNaN(firstNonFinite(entry('BF16', 2), new Uint8Array(Uint16Array.from([0x3f80, 0x7fc0]).buffer))!.value)).toBe(true);
    expect(firstNonFinite(entry('BOOL', 2), new Uint8Array([255, 255]))).toBeNull();
  });
});

describe('logits that stop being numbers stop generation', () => {
  /** A stand-in whose step `badStep` scores are NaN (the rest make token 11 the only choice). */
  function model(badStep: number, value: number): GenerationModel {
    let steps = 0;
    const V = 50257;
    const cache = (length: number): KVCache =>
      ({ batchSize: 1, capacity: 64, length, repeat: () => cache(length), dispose: () => undefined }) as unknown as KVCache;
    return {
      config: {
        vocabSize: V,
        nPositions: 64,
        nEmbd: 8,
        nLayer: 1,
        nHead: 1,
        layerNormEpsilon: 1e-5,
        activation: 'gelu_new',
        bosTokenId: EOS_TOKEN_ID,
        eosTokenId: EOS_TOKEN_ID,
      },
      newCache: () => cache(0),
      forward: (ids) => {
        const logits = new Float32Array(ids.length * V).fill(-1e4);
        for (let row = 0; row < ids.length; row++) logits[row * V + 11] = 10;
        if (steps++ === badStep) logits[V - 5] = value;
        return tf.tensor2d(logits, [ids.length, V]);
      },
    };
  }

  for (const [what, value] of [
    ['NaN', NaN],
    ['+Infinity', Infinity],
  ] as const) {
    it(`a ${what} score ends the stream with a NonFiniteLogitsError naming the step`, async () => {
      const tokens: number[] = [];
      const stream = generate(model(2, value), 'Watson', { max_new_tokens: 5 });
      const error = await (async () => {
        for await (const event of stream) tokens.push(event.tokenId);
      })().catch((e: unknown) => e);
      expect(tokens).toEqual([11, 11]);
      expect(error).toBeInstanceOf(NonFiniteLogitsError);
      expect((error as Error).message).toBe(
        `Generation stopped: the model's scores for new token 3 are not numbers (1 ${what} among 50257), so no token can be drawn. ` +
          "The weights or this backend's arithmetic overflowed: try another backend (wasm or cpu), or check the checkpoint.",
      );
    });
  }

  it('a real model whose arithmetic overflows: the CLI stops with that message, exit 1', async () => {
    // Finite weights, but ln_f scaled to 3e38: the logits overflow to ±Infinity and NaN.
    const dir = writeFixtureCopy(path.join(tmp, 'overflow'), { edit: withValues('ln_f.weight', (v) => v.fill(3e38)) });
    const run = await cli(['generate', '--model', dir, '--prompt', 'Watson', '--greedy', '--max-new-tokens', '3']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: Generation stopped: the model's scores for new token 1 are not numbers/);
  });
});

describe('vocabulary size', () => {
  const expected = fixtureExpected();

  it('a vocabulary padded to 50304 (nanoGPT) loads, says so once, and never samples a padding id', async () => {
    // 47 extra rows, large enough that a padding id would win every step if it could.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 40;
    const pad = (tensors: RawTensor[]) =>
      tensors.map((t) => {
        if (t.name !== 'wte.weight') return t;
        const rows = new Float32Array(50304 * 32);
        rows.set(new Float32Array(t.data.slice().buffer));
        for (let i = 50257 * 32; i < rows.length; i++) rows[i] = random();
        return { ...t, shape: [50304, 32], data: new Uint8Array(rows.buffer) };
      });
    const dir = writeConfig(writeFixtureCopy(path.join(tmp, 'padded'), { edit: pad }), { vocab_size: 50304 });
    const c = expected.cases[1];
    const run = await cli([
      'generate',
      '--model',
      dir,
      '--prompt',
      expected.tokenizer[1].text,
      '--max-new-tokens',
      '20',
      '--greedy',
      '--json',
    ]);
    expect(run.stderr).toBe(
      "note: This model's vocabulary is padded to 50304 (GPT-2's tokenizer has 50257 tokens): the 47 extra ids (50257–50303) stand for no text and are never sampled.",
    );
    expect(run.code).toBe(0);
    // The real ids' logits are the fixture's: greedy decoding gives Hugging Face's ids.
    expect(JSON.parse(run.stdout).sequences).toEqual([{ ids: c.greedy_ids, text: c.greedy_text }]);

    const sampled = await cli([
      'generate',
      '--model',
      dir,
      '--prompt',
      'Watson',
      '--max-new-tokens',
      '20',
      '--seed',
      '1',
      '--top-k',
      '0',
      '--top-p',
      '1',
      '--json',
    ]);
    expect(sampled.code).toBe(0);
    expect(Math.max(...JSON.parse(sampled.stdout).sequences[0].ids)).toBeLessThan(50257);
  });

  it("a vocabulary smaller than GPT-2's is refused at load, saying why", async () => {
    const dir = path.join(tmp, 'small-vocab');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'model.safetensors'), readFileSync(path.join(fixtureDir, 'model.safetensors')));
    writeConfig(dir, { vocab_size: 1000 });
    const run = await cli(['generate', '--model', dir, '--prompt', 'Watson']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^error: .* cannot be run: its config\.json has vocab_size 1000, fewer than the 50257 tokens of GPT-2's tokenizer, which this app reads and writes text with\./,
    );
    expect(run.stderr).not.toMatch(/eos_token_id/);
  });
});

describe('messages for files that are not what they claim', () => {
  let hub: HubServer;
  beforeAll(async () => {
    const config = readFileSync(path.join(fixtureDir, 'config.json'));
    hub = await startHubServer({
      repos: {
        'org/html': {
          'config.json': config,
          'model.safetensors': new TextEncoder().encode(`<!DOCTYPE html><html><body>${'Sign in '.repeat(300)}</body></html>`),
        },
        'org/html-config': { 'config.json': new TextEncoder().encode('\n<!doctype html><html><body>Not here</body></html>') },
        // 8 bytes that promise a 1 MB header, in a 2 kB file.
        'org/not-safetensors': {
          'config.json': config,
          'model.safetensors': Uint8Array.from({ length: 2048 }, (_, i) => (i === 2 ? 0x10 : 0)),
        },
      },
    });
  });
  afterAll(() => hub?.stop());

  it('a web page served as model.safetensors is called an HTML page', async () => {
    const error = (await loadModel(parseModelSpec('hf:org/html'), { hubUrl: hub.url }).catch((e: unknown) => e)) as ModelSourceError;
    expect(error.message).toMatch(
      /model\.safetensors: starts with "<": it is an HTML page \(an error or login page was served instead of the file\), not a safetensors file/,
    );
    expect(error.message).not.toMatch(/truncated/);
  });

  it('a web page served as config.json is called an HTML page too', async () => {
    const error = (await loadModel(parseModelSpec('hf:org/html-config'), { hubUrl: hub.url }).catch((e: unknown) => e)) as ModelSourceError;
    expect(error.message).toBe(
      'The config.json of org/html-config is an HTML page, not JSON: the server answered with a web page (a missing file, a login or error page). Check the address.',
    );
  });

  it('a header length past the end of the file says it is not a safetensors file, not "truncated download?"', async () => {
    const error = (await loadModel(parseModelSpec('hf:org/not-safetensors'), { hubUrl: hub.url }).catch(
      (e: unknown) => e,
    )) as ModelSourceError;
    expect(error.message).toMatch(
      /model\.safetensors: not a safetensors file: its first 8 bytes give a header length of 1048576 bytes, past the end of the 2048-byte file/,
    );
    expect(error.message).not.toMatch(/truncated/);
  });

  it('a model folder without model.safetensors names the missing file', async () => {
    const dir = path.join(tmp, 'config-only');
    mkdirSync(dir, { recursive: true });
    writeConfig(dir, {});
    const run = await cli(['logits', '--model', dir, '--ids', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `error: --model ${dir}: ${path.join(dir, 'model.safetensors')} is missing (a model folder holds config.json and model.safetensors).`,
    );
  });
});
