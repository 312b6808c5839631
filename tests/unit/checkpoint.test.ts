import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/model';
import { WeightsBuilder, loadCheckpoint } from '../../src/model/checkpoint';
import { parseGPT2Config } from '../../src/model/config';
import { CheckpointError } from '../../src/model/errors';
import { parseSafetensorsHeader, readHeaderLength } from '../../src/model/safetensors';
import { fixtureConfigJson, fixtureSafetensors } from '../helpers/fixture';
import { modifiedFixtureTensors, fixtureTensors, type FixtureCopyOptions } from '../helpers/fixtureCopy';
import { toArrayBuffer, writeSafetensors, type RawTensor } from '../helpers/safetensorsWriter';

const FILE = 'model.safetensors';
const config = () => parseGPT2Config(fixtureConfigJson());
const checkpointOf = (options: FixtureCopyOptions) => toArrayBuffer(writeSafetensors(modifiedFixtureTensors(options)));
const edited = (edit: (t: RawTensor[]) => RawTensor[]) => checkpointOf({ edit });

/** Loads, expecting failure; returns the CheckpointError's message. Also checks nothing leaked. */
async function loadError(source: ArrayBuffer | Blob | Response): Promise<string> {
  const before = tf.memory().numTensors;
  const error = await loadCheckpoint(config(), source, FILE).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  expect(tf.memory().numTensors).toBe(before);
  return (error as Error).message;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('parseGPT2Config', () => {
  it('reads a Hugging Face GPT-2 config', () => {
    expect(config()).toEqual({
      vocabSize: 50257,
      nPositions: 64,
      nEmbd: 32,
      nLayer: 2,
      nHead: 4,
      layerNormEpsilon: 1e-5,
      activation: 'gelu_new',
      bosTokenId: 50256,
      eosTokenId: 50256,
    });
  });

  const withChange = (change: Record<string, unknown>) => ({ ...fixtureConfigJson(), ...change });
  const message = (json: unknown) => {
    try {
      parseGPT2Config(json, 'config.json');
    } catch (error) {
      expect(error).toBeInstanceOf(CheckpointError);
      return (error as Error).message;
    }
    throw new Error('expected parseGPT2Config to throw');
  };

  it('rejects a config that is not GPT-2', () => {
    expect(message(withChange({ model_type: 'llama' }))).toBe(
      'config.json: model_type is "llama", expected "gpt2": this app runs GPT-2 checkpoints only',
    );
    expect(message([1, 2])).toBe('config.json: expected a JSON object, found an array');
  });

  it('rejects activations other than gelu_new and gelu', () => {
    expect(message(withChange({ activation_function: 'relu' }))).toBe(
      'config.json: activation_function is "relu", expected "gelu_new" or "gelu"',
    );
    expect(parseGPT2Config(withChange({ activation_function: 'gelu' })).activation).toBe('gelu');
  });

  it('rejects missing or invalid sizes', () => {
    const { n_embd: _, ...noEmbd } = fixtureConfigJson();
    expect(message(noEmbd)).toBe('config.json: missing n_embd: a GPT-2 config must set it');
    expect(message(withChange({ n_layer: 0 }))).toBe('config.json: n_layer must be a positive integer, found 0');
    expect(message(withChange({ vocab_size: '50257' }))).toBe('config.json: vocab_size must be a positive integer, found "50257"');
  });

  it('rejects n_embd not divisible by n_head', () => {
    expect(message(withChange({ n_head: 5 }))).toBe('config.json: n_embd (32) must be divisible by n_head (5)');
  });

  it('rejects attention variants the engine does not compute', () => {
    expect(message(withChange({ scale_attn_by_inverse_layer_idx: true }))).toMatch(/scale_attn_by_inverse_layer_idx=true is not supported/);
  });

  it('falls back to n_ctx and reads n_inner', () => {
    const { n_positions: _, ...noPositions } = withChange({ n_inner: 96 });
    const parsed = parseGPT2Config(noPositions);
    expect([parsed.nPositions, parsed.nInner]).toEqual([64, 96]);
  });
});

describe('loadCheckpoint: layouts and dtypes', () => {
  it('loads the save_pretrained layout (transformer. prefix) with BOOL mask buffers, skipping them undecoded', async () => {
    const buffer = checkpointOf({ prefix: 'transformer.', boolMasks: true });
    const file = new Uint8Array(buffer);
    const header = parseSafetensorsHeader(file.subarray(0, 8 + readHeaderLength(file)), FILE, file.length);
    expect(header.tensors.find((t) => t.name === 'transformer.h.0.attn.bias')?.dtype).toBe('BOOL');
    const builder = new WeightsBuilder(config(), header, FILE);
    expect(builder.plan.map((p) => p.canonical)).not.toContain('h.0.attn.bias');
    expect(builder.plan.map((p) => p.canonical)).not.toContain('h.0.attn.masked_bias');
    expect(builder.plan).toHaveLength(2 + 2 * 12 + 2);
    expect(builder.plan.map((p) => p.entry.begin)).toEqual([...builder.plan.map((p) => p.entry.begin)].sort((a, b) => a - b));

    const model = new GPT2(config(), await loadCheckpoint(config(), buffer));
    const reference = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    const [a, b] = [model.forwardAll([54, 13506]), reference.forwardAll([54, 13506])];
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([a, b]);
    model.dispose();
    reference.dispose();
  });

  it('uses lm_head.weight when present instead of tying the head to wte', async () => {
    const doubled = checkpointOf({ lmHead: (wte) => wte.map((v) => 2 * v) });
    const model = new GPT2(config(), await loadCheckpoint(config(), doubled));
    const reference = await GPT2.fromFiles(fixtureConfigJson(), fixtureSafetensors());
    const [a, b] = [model.forwardAll([464]), reference.forwardAll([464])];
    const [withHead, tied] = [await a.data(), await b.data()];
    for (const j of [0, 1, 464, 50256]) expect(withHead[j]).toBeCloseTo(2 * tied[j], 4);
    tf.dispose([a, b]);
    model.dispose();
    reference.dispose();
  });

  it('converts F16 and BF16 checkpoints to float32 on load', async () => {
    const toHalf = (t: RawTensor, dtype: 'F16' | 'BF16'): RawTensor => {
      if (t.dtype !== 'F32' || !t.name.endsWith('ln_f.weight')) return t;
      const count = t.data.length / 4;
      const bits = new Uint16Array(count).fill(dtype === 'F16' ? 0x3c00 /* 1.0 */ : 0x4000 /* 2.0 */);
      return { ...t, dtype, data: new Uint8Array(bits.buffer) };
    };
    for (const [dtype, value] of [
      ['F16', 1],
      ['BF16', 2],
    ] as const) {
      const weights = await loadCheckpoint(
        config(),
        edited((ts) => ts.map((t) => toHalf(t, dtype))),
      );
      expect(weights.ln_f.weight.dtype).toBe('float32');
      expect(Array.from(await weights.ln_f.weight.data())).toEqual(new Array(32).fill(value));
      new GPT2(config(), weights).dispose();
    }
  });

  it('reads through the window of a Node Buffer inside a larger ArrayBuffer', async () => {
    const bytes = new Uint8Array(fixtureSafetensors());
    const padded = new Uint8Array(bytes.length + 16).fill(0xff);
    padded.set(bytes, 8);
    const window = Buffer.from(padded.buffer, 8, bytes.length);
    const weights = await loadCheckpoint(config(), window);
    const expected = fixtureTensors().find((t) => t.name === 'ln_f.bias')!;
    expect(Array.from(await weights.ln_f.bias.data())).toEqual(Array.from(new Float32Array(expected.data.buffer)));
    new GPT2(config(), weights).dispose();
  });

  it('reads from a Blob slice by slice and from a Response', async () => {
    const bytes = new Uint8Array(fixtureSafetensors());
    const fromBlob = new GPT2(config(), await loadCheckpoint(config(), new Blob([bytes])));
    const fromResponse = new GPT2(config(), await loadCheckpoint(config(), new Response(bytes)));
    const [a, b] = [fromBlob.forwardAll([1, 2]), fromResponse.forwardAll([1, 2])];
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([a, b]);
    fromBlob.dispose();
    fromResponse.dispose();
    expect(await loadError(new Response('Not Found', { status: 404, statusText: 'Not Found' }))).toBe(
      'model.safetensors: download failed: HTTP 404 Not Found',
    );
  });
});

describe('loadCheckpoint: broken checkpoints fail with a clear CheckpointError', () => {
  it('missing tensor', async () => {
    expect(await loadError(edited((ts) => ts.filter((t) => t.name !== 'h.1.mlp.c_fc.bias')))).toBe(
      "model.safetensors: missing tensor 'h.1.mlp.c_fc.bias' (expected shape [128])",
    );
  });

  it('wrong shape', async () => {
    const narrower = (t: RawTensor) => ({ ...t, shape: [32, 32], data: t.data.slice(0, 32 * 32 * 4) });
    expect(await loadError(edited((ts) => ts.map((t) => (t.name === 'wpe.weight' ? narrower(t) : t))))).toBe(
      "model.safetensors: tensor 'wpe.weight': expected shape [64, 32] from config.json, found [32, 32]",
    );
  });

  it('unsupported dtype', async () => {
    const asF64 = (t: RawTensor) => ({ ...t, dtype: 'F64', data: new Uint8Array(t.data.length * 2) });
    expect(await loadError(edited((ts) => ts.map((t) => (t.name === 'ln_f.bias' ? asF64(t) : t))))).toBe(
      "model.safetensors: tensor 'ln_f.bias': unsupported dtype F64, expected one of F32, F16, BF16",
    );
  });

  it('header length past the end of the file', async () => {
    const file = new Uint8Array(fixtureSafetensors()).slice(0, 1000);
    expect(await loadError(toArrayBuffer(file))).toMatch(
      /^model\.safetensors: not a safetensors file: its first 8 bytes give a header length of \d+ bytes, past the end of the 1000-byte file$/,
    );
  });

  it('malformed header JSON', async () => {
    const file = new Uint8Array(fixtureSafetensors());
    file[8] = '['.charCodeAt(0);
    expect(await loadError(toArrayBuffer(file))).toMatch(/^model\.safetensors: header is not valid JSON \(/);
  });

  it('data offsets out of range', async () => {
    const file = new Uint8Array(fixtureSafetensors());
    const length = readHeaderLength(file);
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length)));
    header['ln_f.bias'].data_offsets = [90_000_000, 90_000_128];
    const rewritten = new TextEncoder().encode(JSON.stringify(header).padEnd(length, ' '));
    expect(rewritten.length).toBe(length);
    file.set(rewritten, 8);
    expect(await loadError(toArrayBuffer(file))).toBe(
      `model.safetensors: tensor 'ln_f.bias': data_offsets [90000000, 90000128] are out of range: the data section has only ${file.length - 8 - length} bytes`,
    );
  });

  it('overlapping data offsets', async () => {
    const file = new Uint8Array(fixtureSafetensors());
    const length = readHeaderLength(file);
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + length)));
    const [begin] = header['ln_f.weight'].data_offsets;
    header['ln_f.bias'].data_offsets = [begin + 4, begin + 132];
    file.set(new TextEncoder().encode(JSON.stringify(header).padEnd(length, ' ')), 8);
    expect(await loadError(toArrayBuffer(file))).toMatch(
      /^model\.safetensors: tensors 'ln_f\.weight' \[\d+, \d+\] and 'ln_f\.bias' \[\d+, \d+\] have overlapping data_offsets$/,
    );
  });

  it('truncated file', async () => {
    const file = new Uint8Array(fixtureSafetensors());
    const cut = file.slice(0, file.length - 100);
    expect(await loadError(toArrayBuffer(cut))).toBe(
      `model.safetensors: file is truncated: it is ${cut.length} bytes but its header describes ${file.length} bytes ` +
        `(tensor 'ln_f.bias' ends at data byte ${file.length - 8 - readHeaderLength(file)}, only ${cut.length - 8 - readHeaderLength(file)} data bytes present)`,
    );
  });

  it('more layers in the file than config.json says', async () => {
    const twoLayers = parseGPT2Config({ ...fixtureConfigJson(), n_layer: 1 });
    const error = await loadCheckpoint(twoLayers, fixtureSafetensors(), FILE).catch((e: Error) => e);
    expect((error as Error).message).toBe("model.safetensors: tensor 'h.1.ln_1.weight' belongs to layer 1, but config.json has n_layer=1");
  });

  it('the same tensor under both name layouts', async () => {
    const duplicate = edited((ts) => [...ts, { ...ts.find((t) => t.name === 'wpe.weight')!, name: 'transformer.wpe.weight' }]);
    expect(await loadError(duplicate)).toBe(
      "model.safetensors: tensor 'wpe.weight' appears twice (as 'wpe.weight' and 'transformer.wpe.weight')",
    );
  });
});

describe('WeightsBuilder (streaming)', () => {
  const header = () => {
    const file = new Uint8Array(fixtureSafetensors());
    return { file, header: parseSafetensorsHeader(file.subarray(0, 8 + readHeaderLength(file)), FILE) };
  };

  it('builds the model tensor by tensor, from bytes that arrive separately', async () => {
    const { file, header: h } = header();
    const before = tf.memory().numTensors;
    const builder = new WeightsBuilder(config(), h, FILE);
    for (const plan of builder.plan) {
      builder.add(plan, file.slice(h.dataStart + plan.entry.begin, h.dataStart + plan.entry.end));
    }
    const model = new GPT2(config(), builder.finish());
    const expected = fixtureTensors().find((t) => t.name === 'wpe.weight')!;
    expect(Array.from(await model['weights']!.wpe.data())).toEqual(Array.from(new Float32Array(expected.data.buffer)));
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the tensor that never arrived, and frees the rest on dispose()', () => {
    const { file, header: h } = header();
    const before = tf.memory().numTensors;
    const builder = new WeightsBuilder(config(), h, FILE);
    const [first, second] = builder.plan;
    builder.add(first, file.slice(h.dataStart + first.entry.begin, h.dataStart + first.entry.end));
    expect(() => builder.finish()).toThrow(`model.safetensors: tensor '${second.entry.name}' was never loaded (file truncated?)`);
    expect(() => builder.add(second, new Uint8Array(7))).toThrow(
      `model.safetensors: tensor '${second.entry.name}': file truncated: got 7 bytes, expected ${second.entry.end - second.entry.begin}`,
    );
    builder.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
