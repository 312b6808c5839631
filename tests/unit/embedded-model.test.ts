/**
 * The model the app ships (public/models/sherlock-gpt2): it loads through the normal loader and
 * computes the logits recorded at export time from the same F16 weights (torch, float32 math,
 * tools/train/export.py), and its loss follows the `loss` command's windowing.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { setupNodeBackend } from '../../src/backend/node';
import { UsageError } from '../../src/cli/command';
import { lossCommand, windowedLoss } from '../../src/cli/commands/loss';
import { GPT2, parseGPT2Config } from '../../src/model';
import { encode } from '../../src/tokenizer';
import { repoRoot } from '../helpers/fixture';

const modelDir = path.join(repoRoot, 'public/models/sherlock-gpt2');
const configJson: unknown = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8'));

interface RecordedPosition {
  probe_logits: number[];
  top_ids: number[];
  top_logits: number[];
  max_abs_logit: number;
  logsumexp: number;
}
interface Recorded {
  text: string;
  input_ids: number[];
  probe_ids: number[];
  positions: RecordedPosition[];
  loss_check: { input_ids: number[]; context: number; loss: number; tokens: number };
}
const recorded: Recorded = JSON.parse(readFileSync(path.join(repoRoot, 'tests/fixtures/sherlock-gpt2-logits.json'), 'utf8'));

// F16 weights on both sides, float32 arithmetic in a different order: 1e-3 of the largest |logit|.
const RELATIVE_TOLERANCE = 1e-3;

function logSumExp(values: Float32Array): number {
  const max = values.reduce((m, v) => Math.max(m, v), -Infinity);
  return max + Math.log(values.reduce((sum, v) => sum + Math.exp(v - max), 0));
}

describe('the embedded sherlock-gpt2 model', () => {
  let model: GPT2;
  let logits: Float32Array[]; // per position, [vocab]

  beforeAll(async () => {
    await setupNodeBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const bytes = readFileSync(path.join(modelDir, 'model.safetensors'));
    model = await GPT2.fromFiles(configJson, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    const all = model.forwardAll(recorded.input_ids); // [T, vocab]
    const flat = await all.data();
    all.dispose();
    const vocab = model.config.vocabSize;
    logits = recorded.input_ids.map((_, t) => (flat as Float32Array).slice(t * vocab, (t + 1) * vocab));
  });

  afterAll(() => model?.dispose());

  it('is a GPT-2 with the GPT-2 vocabulary, a context of at least 256 tokens, and fits in 40 MB', () => {
    const config = parseGPT2Config(configJson);
    expect(config.vocabSize).toBe(50257);
    expect(config.activation).toBe('gelu_new');
    expect(config.eosTokenId).toBe(50256);
    expect(config.nPositions).toBeGreaterThanOrEqual(256);
    expect(statSync(path.join(modelDir, 'model.safetensors')).size).toBeLessThanOrEqual(40 * 1024 * 1024);
  });

  it('reads the fixture text as the recorded token ids', () => {
    expect(encode(recorded.text)).toEqual(recorded.input_ids);
  });

  it('computes the logits recorded at export, at every position', () => {
    recorded.positions.forEach((expected, t) => {
      const row = logits[t];
      const tolerance = RELATIVE_TOLERANCE * expected.max_abs_logit;
      const probes = recorded.probe_ids.map((id) => row[id]);
      probes.forEach((value, i) =>
        expect(Math.abs(value - expected.probe_logits[i]), `position ${t}, id ${recorded.probe_ids[i]}`).toBeLessThanOrEqual(tolerance),
      );
      expected.top_ids.forEach((id, i) =>
        expect(Math.abs(row[id] - expected.top_logits[i]), `position ${t}, top id ${id}`).toBeLessThanOrEqual(tolerance),
      );
      expect(Math.abs(logSumExp(row) - expected.logsumexp)).toBeLessThanOrEqual(tolerance);
      expect(Math.abs(row.reduce((m, v) => Math.max(m, Math.abs(v)), 0) - expected.max_abs_logit)).toBeLessThanOrEqual(tolerance);
    });
  });

  it('ranks the recorded top token first at every position (up to rounding in a near-tie)', () => {
    recorded.positions.forEach((expected, t) => {
      const row = logits[t];
      const best = row.reduce((b, v, i) => (v > row[b] ? i : b), 0);
      expect(row[best] - row[expected.top_ids[0]], `position ${t}`).toBeLessThanOrEqual(RELATIVE_TOLERANCE * expected.max_abs_logit);
    });
  });

  it('measures the loss of the first validation windows as the trainer did', async () => {
    const { input_ids, context, loss, tokens } = recorded.loss_check;
    const result = await windowedLoss(model, input_ids, context);
    expect(result.tokens).toBe(tokens);
    expect(Math.abs(result.loss - loss)).toBeLessThan(1e-3);
  });
});

describe('the loss command', () => {
  const text = 'It was a cold morning of the early spring, and we sat after breakfast on either side of a cheery fire.';
  const textFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'loss-cli-')), 'text.txt');
  writeFileSync(textFile, text);

  it('prints {loss, tokens} as JSON, predicting every token of a window but its first', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await lossCommand.run(['--model', modelDir, '--file', textFile, '--context', '256', '--backend', 'wasm', '--json'])).toBe(0);
      const printed = JSON.parse(String(log.mock.calls.at(-1)?.[0]));
      const ids = encode(text);
      expect(printed.tokens).toBe(ids.length - 1); // one window: every token but the first is predicted
      expect(printed.loss).toBeGreaterThan(0);
      expect(Number.isFinite(printed.loss)).toBe(true);

      // Windows of 8 tokens, each predicting all but its first token; a last window of 1 predicts nothing.
      expect(await lossCommand.run(['--model', modelDir, '--file', textFile, '--context', '8', '--backend', 'wasm', '--json'])).toBe(0);
      const windowed = JSON.parse(String(log.mock.calls.at(-1)?.[0]));
      let predicted = 0;
      for (let start = 0; start < ids.length; start += 8) predicted += Math.max(0, Math.min(8, ids.length - start) - 1);
      expect(windowed.tokens).toBe(predicted);
      expect(windowed.tokens).toBeLessThan(printed.tokens);
    } finally {
      log.mockRestore();
    }
  });

  it('refuses a missing --file, an unreadable file and a context the model cannot read', async () => {
    await expect(lossCommand.run(['--model', modelDir])).rejects.toThrow(UsageError);
    await expect(lossCommand.run(['--model', modelDir, '--file', path.join(path.dirname(textFile), 'absent.txt')])).rejects.toThrow(
      /cannot read --file/,
    );
    await expect(lossCommand.run(['--model', modelDir, '--file', textFile, '--context', '1', '--backend', 'wasm'])).rejects.toThrow(
      /--context/,
    );
    await expect(lossCommand.run(['--model', modelDir, '--file', textFile, '--context', '257', '--backend', 'wasm'])).rejects.toThrow(
      /--context/,
    );
  });
});
