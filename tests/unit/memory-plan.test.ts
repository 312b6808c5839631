/**
 * The memory plan made from config.json before any weight is fetched (src/model/memoryPlan.ts):
 * gpt2-xl as f32 is refused on wasm with the numbers and the precision that fits, q8 is accepted;
 * `auto` picks f32 for small models and the built-in one, q8 over 300M parameters on wasm/cpu;
 * WebGPU's buffer limits refuse what cannot be bound; and loadModel refuses before it asks for
 * a single byte of model.safetensors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGPT2Config, type GPT2Config } from '../../src/model/config';
import { choosePrecision, planMemory, TFJS_WASM_HEAP_BYTES, WASM_MEMORY_BYTES } from '../../src/model/memoryPlan';
import { ModelSourceError } from '../../src/sources/errors';
import { loadModel } from '../../src/sources/loadModel';
import { parseModelSpec } from '../../src/sources/spec';
import { startHubServer, type HubServer } from '../helpers/hubServer';

const shape = (nLayer: number, nEmbd: number, nHead: number): GPT2Config =>
  parseGPT2Config({ model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: nEmbd, n_layer: nLayer, n_head: nHead });
const gpt2 = shape(12, 768, 12);
const medium = shape(24, 1024, 16);
const xl = shape(48, 1600, 25);
const wasm = { backend: 'wasm' };

describe('memory plan', () => {
  it('refuses gpt2-xl as f32 on wasm, naming what it needs, what WebAssembly holds and that q8 fits', () => {
    expect(() => choosePrecision('f32', xl, wasm, { label: 'gpt2-xl' })).toThrow(
      /^Not loading: gpt2-xl needs 7\.0 GB as f32 \(weights, the head's transposed copy, activations\); tfjs-wasm holds 2\.1 GB \(2 GiB\)\. As q8 it needs 1\.6 GB of weights and fits: choose Precision q8 \(\?dtype=q8, --dtype q8\)\.$/,
    );
  });

  it('accepts gpt2-xl as q8 on wasm: 1.6 GB of weights in the matrix store, the KV cache of 4 sequences in its own memory', () => {
    const { plan, reason } = choosePrecision('q8', xl, wasm, { label: 'gpt2-xl' });
    expect(plan.problem).toBeUndefined();
    expect(plan.precision).toBe('q8');
    expect(plan.weightBytes).toBeGreaterThan(1.5e9);
    expect(plan.weightBytes).toBeLessThan(1.7e9);
    expect(plan.weightBytes).toBeLessThan(WASM_MEMORY_BYTES);
    expect(plan.kvCacheBytes).toBe(2 * 48 * 1024 * 1600 * 4 * 5);
    expect(reason).toBe('q8, as asked');
    expect(choosePrecision('auto', xl, wasm).plan.precision).toBe('q8');
  });

  it('auto: f32 for gpt2 and the built-in model, q8 above 300M parameters on wasm and cpu, f32 elsewhere', () => {
    expect(choosePrecision('auto', gpt2, wasm).plan.precision).toBe('f32');
    expect(choosePrecision('auto', medium, wasm).plan.precision).toBe('q8');
    expect(choosePrecision('auto', medium, { backend: 'cpu' }).plan.precision).toBe('q8');
    expect(choosePrecision('auto', medium, wasm, { builtIn: true }).plan.precision).toBe('f32');
    expect(choosePrecision('auto', medium, { backend: 'webgl' }).plan.precision).toBe('f32');
    expect(choosePrecision('auto', medium, { backend: 'webgpu' }).plan.precision).toBe('f32');
    expect(
      choosePrecision('auto', xl, { backend: 'webgpu', maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 28 }).plan.precision,
    ).toBe('q8');
    expect(planMemory(gpt2, 'f32', wasm).parameters).toBe(124439808);
  });

  it("f32 weights on wasm count the head's transposed copy against tfjs-wasm's heap; q8 sizes are a quarter", () => {
    const f32 = planMemory(medium, 'f32', wasm);
    const q8 = planMemory(medium, 'q8', wasm);
    expect(f32.weightBytes - planMemory(medium, 'f32', { backend: 'cpu' }).weightBytes).toBe(4 * 50257 * 1024);
    expect(f32.weightBytes).toBeLessThan(TFJS_WASM_HEAP_BYTES);
    expect(q8.weightBytes / f32.weightBytes).toBeLessThan(0.27);
  });

  it('says which precisions a backend runs', () => {
    expect(() => choosePrecision('q8', gpt2, { backend: 'webgl' })).toThrow(/q8 weights are not available on webgl \(it runs f32\)/);
  });

  it('on WebGPU, refuses a table larger than the adapter lets one buffer be', () => {
    expect(() =>
      choosePrecision(
        'f32',
        gpt2,
        { backend: 'webgpu', maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 128 * 2 ** 20 },
        { label: 'gpt2' },
      ),
    ).toThrow(
      /gpt2's largest tensor \(the 50257 × 768 token table\) is 0\.2 GB as f32; this WebGPU adapter allows buffers of at most 0\.1 GB/,
    );
    expect(
      choosePrecision('f32', gpt2, { backend: 'webgpu', maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 }).plan.problem,
    ).toBeUndefined();
  });

  it('warns (without refusing) when navigator.deviceMemory is below the total', () => {
    const plan = planMemory(xl, 'q8', { backend: 'wasm', deviceMemoryGb: 4 }, 4, 'gpt2-xl');
    expect(plan.problem).toBeUndefined();
    expect(plan.note).toMatch(/gpt2-xl needs about 5\.2 GB as q8, and this device reports 4 GB of memory/);
  });
});

describe('loadModel refuses before the download', () => {
  let hub: HubServer;
  beforeAll(async () => {
    const config = new TextEncoder().encode(
      JSON.stringify({ model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 1600, n_layer: 48, n_head: 25 }),
    );
    hub = await startHubServer({ repos: { 'org/xl-shaped': { 'config.json': config, 'model.safetensors': new Uint8Array(64) } } });
  });
  afterAll(async () => hub?.stop());

  it("reads config.json, then stops with the plan's message: no request for model.safetensors", async () => {
    const error = await loadModel(parseModelSpec('hf:org/xl-shaped'), { hubUrl: hub.url, precision: 'f32', memory: wasm }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelSourceError);
    expect((error as ModelSourceError).kind).toBe('unsupported');
    expect((error as Error).message).toMatch(/^Not loading: org\/xl-shaped needs 7\.0 GB as f32.*As q8 it needs 1\.6 GB/);
    expect(hub.requests.some((r) => r.path.includes('model.safetensors'))).toBe(false);
    expect(hub.requests.some((r) => r.path.includes('config.json'))).toBe(true);
  });
});
