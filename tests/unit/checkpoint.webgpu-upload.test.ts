import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseGPT2Config, parseSafetensorsHeader, readHeaderLength, WeightsBuilder } from '../../src/model';
import { fixtureDir } from '../helpers/fixture';
import { useWebGPUInNode } from '../helpers/webgpuNode';

// The streaming loader promises a model never sits in memory twice: on WebGPU each tensor must be
// on the GPU (its CPU copy dropped) as soon as WeightsBuilder.add() returns, not at first use.
describe('WeightsBuilder on webgpu', () => {
  beforeAll(async () => {
    await useWebGPUInNode();
  });

  it('uploads each tensor when it is added and keeps no CPU copy', () => {
    expect(tf.getBackend()).toBe('webgpu');
    const file = readFileSync(path.join(fixtureDir, 'model.safetensors'));
    const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
    const config = parseGPT2Config(JSON.parse(readFileSync(path.join(fixtureDir, 'config.json'), 'utf8')));
    const header = parseSafetensorsHeader(bytes.subarray(0, 8 + readHeaderLength(bytes.subarray(0, 8))));
    const builder = new WeightsBuilder(config, header);
    const tensorMap = (tf.backend() as unknown as { tensorMap: { get(id: object): { values: unknown; resource: unknown } } }).tensorMap;
    for (const plan of builder.plan) {
      const start = header.dataStart + plan.entry.begin;
      builder.add(plan, bytes.subarray(start, header.dataStart + plan.entry.end));
    }
    const weights = builder.finish();
    const f32 = (m: { gpu(): object }) => (m.gpu() as { weight: tf.Tensor }).weight;
    for (const t of [f32(weights.wte), weights.wpe, f32(weights.h[0].attn.c_attn.weight), weights.h[1].mlp.c_proj.bias]) {
      const data = tensorMap.get(t.dataId);
      expect(data.resource).not.toBeNull();
      expect(data.values).toBeNull();
    }
    builder.dispose();
  });
});
