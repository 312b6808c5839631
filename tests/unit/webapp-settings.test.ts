import { describe, expect, test } from 'vitest';
import {
  clampSetting, DEFAULT_SETTINGS, generateOptions, initialSettings, linkHub, randomSeed, settingsFromSearch, settingsFromStorage,
  settingsToSearch, settingsToStorage, temperatureHint, MAX_SEED, type Settings,
} from '../../src/ui/settings';
import { modelOptions } from '../../src/ui/modelSpec';

const CUSTOM: Settings = {
  prompt: 'It is a capital mistake to theorize <b>before</b> one has data & "facts"',
  model: 'hf:someone/sherlock-ft@v2',
  backend: 'wasm',
  hubUrl: 'http://127.0.0.1:9999',
  precision: 'q8',
  topK: 7,
  topP: 0.83,
  temperature: 0.65,
  minP: 0.05,
  maxNewTokens: 123,
  repetitionPenalty: 1.25,
  seed: 4_000_000_000,
  sequences: 2,
  sample: false,
};

describe('settings', () => {
  test('defaults are the notebook sampling settings', () => {
    expect(DEFAULT_SETTINGS).toMatchObject({ topK: 50, topP: 0.95, temperature: 1, sequences: 3, sample: true, model: 'embedded' });
  });

  test('round trip through the URL', () => {
    const search = settingsToSearch(CUSTOM);
    const params = new URLSearchParams(search);
    // Hugging Face generate() names, so a link reads like the notebook's call.
    expect(params.get('top_k')).toBe('7');
    expect(params.get('num_return_sequences')).toBe('2');
    expect(params.get('do_sample')).toBe('false');
    expect(settingsFromSearch(search)).toEqual(CUSTOM);
  });

  test('round trip through localStorage', () => {
    expect(settingsFromStorage(settingsToStorage(CUSTOM))).toEqual(CUSTOM);
  });

  test('the URL wins over localStorage, which wins over the defaults', () => {
    const stored = settingsToStorage({ ...DEFAULT_SETTINGS, seed: 5, topK: 10 });
    const settings = initialSettings('?seed=6', stored);
    expect(settings.seed).toBe(6);
    expect(settings.topK).toBe(10);
    expect(settings.topP).toBe(DEFAULT_SETTINGS.topP);
  });

  test("a link's hub is never used or kept unconfirmed: only the stored (confirmed) hub is", () => {
    const fresh = initialSettings('?model=gpt2&hub=https://elsewhere.example', null);
    expect(fresh.hubUrl).toBe('');
    expect(fresh.model).toBe('gpt2');
    expect(linkHub('?model=gpt2&hub=https://elsewhere.example', fresh)).toBe('https://elsewhere.example');
    expect(JSON.parse(settingsToStorage(fresh)).hub).toBeUndefined();

    const trusted = initialSettings('?hub=https://mirror.example/', settingsToStorage({ ...DEFAULT_SETTINGS, hubUrl: 'https://mirror.example' }));
    expect(trusted.hubUrl).toBe('https://mirror.example');
    expect(linkHub('?hub=https://mirror.example/', trusted)).toBeNull();
    expect(linkHub('', trusted)).toBeNull();
    expect(linkHub('?hub=javascript:alert(1)', fresh)).toBeNull();
  });

  test('temperature 0 says it means greedy here (Hugging Face would refuse it for sampling)', () => {
    expect(temperatureHint({ ...DEFAULT_SETTINGS, temperature: 0 })).toMatch(/^0 = greedy decoding here .*Hugging Face refuses temperature 0 when sampling/);
    expect(temperatureHint({ ...DEFAULT_SETTINGS, temperature: 0.7 })).toMatch(/0 = greedy/);
  });

  test('invalid or out-of-range values are clamped or ignored, never crash', () => {
    const settings = settingsFromSearch('?top_k=500&top_p=-1&temperature=abc&num_return_sequences=9&model=not%20a%20model&do_sample=maybe&hub=javascript:alert(1)');
    expect(settings.topK).toBe(200);
    expect(settings.topP).toBe(0);
    expect(settings.temperature).toBe(DEFAULT_SETTINGS.temperature);
    expect(settings.sequences).toBe(4);
    expect(settings.model).toBe(DEFAULT_SETTINGS.model);
    expect(settings.sample).toBe(DEFAULT_SETTINGS.sample);
    expect(settings.hubUrl).toBe('');
    expect(settingsFromStorage('{not json')).toEqual(DEFAULT_SETTINGS);
  });

  test('?dtype= picks the precision; unknown values are ignored; auto stays out of the URL', () => {
    expect(settingsFromSearch('?dtype=Q8').precision).toBe('q8');
    expect(settingsFromSearch('?dtype=f16').precision).toBe('f16');
    expect(settingsFromSearch('?dtype=int4').precision).toBe('auto');
    expect(new URLSearchParams(settingsToSearch(DEFAULT_SETTINGS)).has('dtype')).toBe(false);
    expect(new URLSearchParams(settingsToSearch(CUSTOM)).get('dtype')).toBe('q8');
  });

  test('the model menu shows each preset\'s download and memory at the chosen precision', () => {
    const label = (precision: 'auto' | 'f32' | 'q8', id: string, memory?: { backend: string }) => modelOptions(precision, memory).find((o) => o.value === id)!.label;
    expect(label('auto', 'gpt2')).toBe('gpt2: GPT-2 small, 124M parameters, 498 MB download, needs 1.2 GB as f32');
    expect(label('auto', 'gpt2-xl')).toMatch(/^gpt2-xl: GPT-2 XL, 1\.5B parameters, 6\.2 GB download, needs 5\.2 GB as q8$/);
    expect(label('q8', 'gpt2')).toMatch(/needs 0\.7 GB as q8$/);
    expect(label('f32', 'gpt2-xl')).toMatch(/does not fit as f32 on wasm$/);
    expect(label('auto', 'gpt2-xl', { backend: 'webgpu' })).toMatch(/needs [\d.]+ GB as f32$/);
  });

  test('clamping rounds to the control step', () => {
    expect(clampSetting('topP', 0.95000001)).toBe(0.95);
    expect(clampSetting('topK', 12.6)).toBe(13);
    expect(clampSetting('repetitionPenalty', 0.5)).toBe(1);
  });

  test('generate options use Hugging Face names; greedy asks for one sequence', () => {
    expect(generateOptions({ ...CUSTOM, sample: true })).toEqual({
      max_new_tokens: 123, do_sample: true, temperature: 0.65, top_k: 7, top_p: 0.83, min_p: 0.05,
      repetition_penalty: 1.25, num_return_sequences: 2, seed: 4_000_000_000,
    });
    expect(generateOptions(CUSTOM).num_return_sequences).toBe(1);
    expect(generateOptions({ ...CUSTOM, sample: true, temperature: 0 }).num_return_sequences).toBe(1);
  });

  test('random seeds cover the whole 32-bit range', () => {
    expect(randomSeed(() => 0)).toBe(0);
    expect(randomSeed(() => 0.999999999999)).toBe(MAX_SEED);
  });
});
