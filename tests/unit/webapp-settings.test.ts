import { describe, expect, test } from 'vitest';
import {
  checkNumber,
  clampSetting,
  DEFAULT_SETTINGS,
  fieldProblems,
  generateBlockedReason,
  generateOptions,
  initialSettings,
  linkHub,
  onlyLikeliest,
  randomSeed,
  settingsFromSearch,
  settingsFromStorage,
  settingsToSearch,
  settingsToStorage,
  temperatureHint,
  MAX_SEED,
  type Settings,
  MAX_LINK_PROMPT_CHARS,
  linkPromptNote,
  promptFitsLink,
  LABELS,
  LIMITS,
  MORE_SAMPLERS,
  NUMBER_SETTINGS,
} from '../../src/ui/settings';
import { optionSpec } from '../../src/generation/optionSpecs';
import { modelOptions } from '../../src/ui/modelSpec';

const CUSTOM: Settings = {
  prompt: 'It is a capital mistake to theorize <b>before</b> one has data & "facts"',
  model: 'hf:someone/sherlock-ft@v2',
  backend: 'wasm',
  hubUrl: 'http://127.0.0.1:9999',
  precision: 'q8',
  threads: 3,
  top_k: 7,
  top_p: 0.83,
  temperature: 0.65,
  min_p: 0.05,
  max_new_tokens: 123,
  repetition_penalty: 1.25,
  seed: 4_000_000_000,
  num_return_sequences: 2,
  do_sample: false,
  no_repeat_ngram_size: 2,
  top_h: 0.4,
  typical_p: 0.5,
  epsilon_cutoff: 0.0003,
  eta_cutoff: 0.002,
  num_beams: 4,
  length_penalty: -0.5,
  early_stopping: 'never',
};

describe('settings', () => {
  test('defaults are the notebook sampling settings', () => {
    expect(DEFAULT_SETTINGS).toMatchObject({
      top_k: 50,
      top_p: 0.95,
      temperature: 1,
      num_return_sequences: 3,
      do_sample: true,
      model: 'embedded',
    });
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
    const stored = settingsToStorage({ ...DEFAULT_SETTINGS, seed: 5, top_k: 10 });
    const settings = initialSettings('?seed=6', stored);
    expect(settings.seed).toBe(6);
    expect(settings.top_k).toBe(10);
    expect(settings.top_p).toBe(DEFAULT_SETTINGS.top_p);
  });

  test("a link's hub is never used or kept unconfirmed: only the stored (confirmed) hub is", () => {
    const fresh = initialSettings('?model=gpt2&hub=https://elsewhere.example', null);
    expect(fresh.hubUrl).toBe('');
    expect(fresh.model).toBe('gpt2');
    expect(linkHub('?model=gpt2&hub=https://elsewhere.example', fresh)).toBe('https://elsewhere.example');
    expect(JSON.parse(settingsToStorage(fresh)).hub).toBeUndefined();

    const trusted = initialSettings(
      '?hub=https://mirror.example/',
      settingsToStorage({ ...DEFAULT_SETTINGS, hubUrl: 'https://mirror.example' }),
    );
    expect(trusted.hubUrl).toBe('https://mirror.example');
    expect(linkHub('?hub=https://mirror.example/', trusted)).toBeNull();
    expect(linkHub('', trusted)).toBeNull();
    expect(linkHub('?hub=javascript:alert(1)', fresh)).toBeNull();
  });

  test('temperature 0 says it means greedy here (Hugging Face would refuse it for sampling)', () => {
    expect(temperatureHint({ ...DEFAULT_SETTINGS, temperature: 0 })).toMatch(
      /^0 = greedy decoding here .*Hugging Face refuses temperature 0 when sampling/,
    );
    expect(temperatureHint({ ...DEFAULT_SETTINGS, temperature: 0.7 })).toMatch(/0 = greedy/);
  });

  test('invalid or out-of-range values are clamped or ignored, never crash', () => {
    const settings = settingsFromSearch(
      '?top_k=500&top_p=-1&temperature=abc&num_return_sequences=9&model=not%20a%20model&do_sample=maybe&hub=javascript:alert(1)',
    );
    expect(settings.top_k).toBe(200);
    expect(settings.top_p).toBe(0);
    expect(settings.temperature).toBe(DEFAULT_SETTINGS.temperature);
    expect(settings.num_return_sequences).toBe(4);
    expect(settings.model).toBe(DEFAULT_SETTINGS.model);
    expect(settings.do_sample).toBe(DEFAULT_SETTINGS.do_sample);
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

  test('?threads= sets the WebAssembly threads (1 to 64, or auto); anything else is refused with the allowed range; auto stays out of the URL', () => {
    expect(settingsFromSearch('?threads=2').threads).toBe(2);
    expect(settingsFromSearch('?threads=auto', { ...DEFAULT_SETTINGS, threads: 4 }).threads).toBe('auto');
    for (const bad of ['0', '65', '1.5', 'many']) {
      const changes: string[] = [];
      expect(settingsFromSearch(`?threads=${bad}`, DEFAULT_SETTINGS, changes).threads).toBe('auto');
      expect(changes).toEqual([`threads must be a whole number from 1 to 64, got '${bad}', or auto: kept auto`]);
    }
    expect(new URLSearchParams(settingsToSearch(DEFAULT_SETTINGS)).has('threads')).toBe(false);
    expect(new URLSearchParams(settingsToSearch(CUSTOM)).get('threads')).toBe('3');
  });

  test("the model menu shows each preset's download and memory at the chosen precision", () => {
    const label = (precision: 'auto' | 'f32' | 'q8', id: string, memory?: { backend: string }) =>
      modelOptions(precision, memory).find((o) => o.value === id)!.label;
    expect(label('auto', 'gpt2')).toBe('gpt2: GPT-2 small, 124M parameters, 498 MB download, needs 1.2 GB as f32');
    expect(label('auto', 'gpt2-xl')).toMatch(/^gpt2-xl: GPT-2 XL, 1\.5B parameters, 6\.2 GB download, needs 5\.2 GB as q8$/);
    expect(label('q8', 'gpt2')).toMatch(/needs 0\.7 GB as q8$/);
    expect(label('f32', 'gpt2-xl')).toMatch(/does not fit as f32 on wasm$/);
    expect(label('auto', 'gpt2-xl', { backend: 'webgpu' })).toMatch(/needs [\d.]+ GB as f32$/);
  });

  test('clamping rounds to the control step', () => {
    expect(clampSetting('top_p', 0.95000001)).toBe(0.95);
    expect(clampSetting('top_k', 12.6)).toBe(13);
    expect(clampSetting('repetition_penalty', 0.5)).toBe(1);
  });

  test('generate options use Hugging Face names; greedy asks for one sequence', () => {
    const single = { ...CUSTOM, num_beams: 1 };
    expect(generateOptions({ ...single, do_sample: true })).toEqual({
      max_new_tokens: 123,
      do_sample: true,
      temperature: 0.65,
      top_k: 7,
      top_p: 0.83,
      min_p: 0.05,
      repetition_penalty: 1.25,
      no_repeat_ngram_size: 2,
      top_h: 0.4,
      typical_p: 0.5,
      epsilon_cutoff: 0.0003,
      eta_cutoff: 0.002,
      num_beams: 1,
      length_penalty: -0.5,
      early_stopping: 'never',
      num_return_sequences: 2,
      seed: 4_000_000_000,
    });
    expect(generateOptions(single).num_return_sequences).toBe(1);
    expect(generateOptions({ ...single, do_sample: true, temperature: 0 }).num_return_sequences).toBe(1);
    // Beam search returns the best beams, at most num_beams of them, greedy or not; top_h 0 is off (null).
    expect(generateOptions({ ...CUSTOM, num_return_sequences: 3 }).num_return_sequences).toBe(3);
    expect(generateOptions({ ...CUSTOM, num_beams: 2, num_return_sequences: 3 }).num_return_sequences).toBe(2);
    expect(generateOptions({ ...CUSTOM, top_h: 0 }).top_h).toBeNull();
  });

  test('every option the page shows is in the URL under its Hugging Face name, and reads back', () => {
    const params = new URLSearchParams(settingsToSearch(CUSTOM));
    for (const name of MORE_SAMPLERS) {
      expect(params.get(name)).toBe(String(CUSTOM[name]));
      expect(LABELS[name]).toBe(optionSpec(name).label);
    }
    expect(params.get('early_stopping')).toBe('never');
    for (const word of ['true', 'false', 'never'] as const)
      expect(settingsFromSearch(`?early_stopping=${word}`).early_stopping).toBe(word === 'never' ? word : word === 'true');
    const changes: string[] = [];
    expect(settingsFromSearch('?early_stopping=soon&num_beams=99', DEFAULT_SETTINGS, changes)).toMatchObject({
      early_stopping: false,
      num_beams: 16,
    });
    expect(changes).toEqual([
      'num_beams=99 → 16 (allowed: a whole number from 1 to 16)',
      'early_stopping=soon is not true, false or "never": kept false',
    ]);
    // An old link, without the new parameters, keeps the defaults (Hugging Face's).
    expect(settingsFromSearch('?top_k=7')).toMatchObject({ typical_p: 1, num_beams: 1, top_h: 0, early_stopping: false });
  });

  test('every number control is an option of the table: its label, and slider ends Hugging Face accepts', () => {
    for (const name of NUMBER_SETTINGS) {
      const spec = optionSpec(name);
      expect(LABELS[name]).toBe(spec.label);
      const { min, max } = LIMITS[name];
      // The page's 0 for top_h is Hugging Face's null (off).
      for (const end of [min, max]) expect(spec.accepts(name === 'top_h' && end === 0 ? null : end), `${name} ${end}`).toBe(true);
      expect(DEFAULT_SETTINGS[name]).toBeGreaterThanOrEqual(min);
      expect(DEFAULT_SETTINGS[name]).toBeLessThanOrEqual(max);
    }
    // Settings and URL parameters share the names: what the page sends is what the address says.
    const params = new URLSearchParams(settingsToSearch(CUSTOM));
    const sent = generateOptions({ ...CUSTOM, do_sample: true });
    for (const name of NUMBER_SETTINGS) if (name !== 'top_h') expect(String(sent[name])).toBe(params.get(name));
  });

  test('random seeds cover the whole 32-bit range', () => {
    expect(randomSeed(() => 0)).toBe(0);
    expect(randomSeed(() => 0.999999999999)).toBe(MAX_SEED);
  });

  test('a number box reads as its value or as a message with the allowed range', () => {
    expect(checkNumber('top_p', '0.5')).toEqual({ value: 0.5 });
    expect(checkNumber('top_p', '0.955')).toEqual({ value: 0.96 });
    expect(checkNumber('top_p', '7')).toEqual({ problem: 'Top-p must be a number from 0 to 1.' });
    expect(checkNumber('top_k', '-3')).toEqual({ problem: 'Top-k must be a whole number from 0 to 200.' });
    expect(checkNumber('top_k', '2.5')).toEqual({ problem: 'Top-k must be a whole number from 0 to 200.' });
    // Letters in a number box read as '' in a browser; both are not a number.
    expect(checkNumber('temperature', '')).toEqual({ problem: 'Temperature must be a number from 0 to 2.' });
    expect(checkNumber('temperature', 'abc')).toEqual({ problem: 'Temperature must be a number from 0 to 2.' });
    expect(checkNumber('seed', String(MAX_SEED))).toEqual({ value: MAX_SEED });
  });

  test('one rule for seeds: a 32-bit unsigned integer in decimal, anything else refused with the range (box and address)', () => {
    const problem = { problem: 'Seed must be a whole number from 0 to 4294967295.' };
    for (const text of ['-1', '0x10', '1e3', '+5', '2.5', String(MAX_SEED + 1), ''])
      expect(checkNumber('seed', text), text).toEqual(problem);
    expect(checkNumber('seed', ' 16 ')).toEqual({ value: 16 });
    for (const raw of ['-1', '0x10', '4294967296']) {
      const changes: string[] = [];
      expect(settingsFromSearch(`?seed=${encodeURIComponent(raw)}`, DEFAULT_SETTINGS, changes).seed).toBe(42);
      expect(changes).toEqual([`seed=${raw} is not a whole number from 0 to 4294967295: kept 42`]);
    }
    expect(settingsFromSearch('?seed=4294967295').seed).toBe(MAX_SEED);
  });

  test('invalid boxes hold Generate back, with the reason', () => {
    expect(fieldProblems({ top_p: '0.5', top_k: '-3', temperature: '' }).map((p) => p.setting)).toEqual(['top_k', 'temperature']);
    expect(generateBlockedReason({})).toBeNull();
    expect(generateBlockedReason({ top_p: '0.' })).toBeNull(); // "0." on the way to "0.5" is a number
    expect(generateBlockedReason({ top_p: '7' })).toBe('To generate, fix Top-p (a number from 0 to 1) or put its value back.');
    expect(generateBlockedReason({ top_p: '7', top_k: '-3', temperature: 'x' })).toBe(
      'To generate, fix Top-k (a whole number from 0 to 200), Top-p (a number from 0 to 1) and Temperature (a number from 0 to 2) or put their values back.',
    );
  });

  test('what the address asked for and could not have is listed, each change once', () => {
    const changes: string[] = [];
    const settings = settingsFromSearch(
      '?top_k=-3&top_p=7&temperature=abc&max_new_tokens=40&backend=foo&dtype=q4&do_sample=maybe&seed=2.5',
      DEFAULT_SETTINGS,
      changes,
    );
    expect(settings).toMatchObject({
      top_k: 0,
      top_p: 1,
      temperature: 1,
      backend: 'auto',
      precision: 'auto',
      do_sample: true,
      seed: 42,
      max_new_tokens: 40,
    });
    expect(changes).toEqual([
      'backend=foo is not one of auto, webgpu, wasm, webgl, cpu: choosing automatically',
      'dtype=q4 is not one of auto, f32, f16, q8: kept auto',
      'top_k=-3 → 0 (allowed: a whole number from 0 to 200; 0 turns top-k off)',
      'top_p=7 → 1 (allowed: a number from 0 to 1 in steps of 0.01)',
      'temperature=abc is not a number: kept 1',
      'seed=2.5 is not a whole number from 0 to 4294967295: kept 42',
      'do_sample=maybe is not true or false: kept true',
    ]);
    const none: string[] = [];
    settingsFromSearch(settingsToSearch(CUSTOM), DEFAULT_SETTINGS, none);
    expect(none).toEqual([]);
    const model: string[] = [];
    expect(settingsFromSearch('?model=not%20a%20model', DEFAULT_SETTINGS, model).model).toBe('embedded');
    expect(model[0]).toMatch(/^model=not a model cannot be used, so embedded stays: /);
  });

  test('an unknown backend is never kept, so the Backend menu never offers it', () => {
    expect(settingsFromSearch('?backend=foo').backend).toBe('auto');
    expect(settingsFromSearch('?backend=foo', { ...DEFAULT_SETTINGS, backend: 'wasm' }).backend).toBe('wasm');
    expect(settingsFromSearch('?backend=CPU').backend).toBe('cpu');
    expect(settingsFromStorage(JSON.stringify({ backend: 'quantum' })).backend).toBe('auto');
  });

  test('top-p 0, top-k 1 or min-p 1 with sampling keep only the likeliest token', () => {
    expect(onlyLikeliest({ ...DEFAULT_SETTINGS, top_p: 0 })).toEqual({
      setting: 'top_p',
      reason: 'Top-p 0 keeps only the likeliest token',
    });
    expect(onlyLikeliest({ ...DEFAULT_SETTINGS, top_k: 1 })?.setting).toBe('top_k');
    expect(onlyLikeliest({ ...DEFAULT_SETTINGS, min_p: 1 })?.setting).toBe('min_p');
    expect(onlyLikeliest({ ...DEFAULT_SETTINGS, top_p: 0, do_sample: false })).toBeNull(); // greedy says so itself
    expect(onlyLikeliest(DEFAULT_SETTINGS)).toBeNull();
  });
});

describe('the address stays loadable', () => {
  test('a prompt up to 2,000 encoded characters travels in the address; a longer one stays in storage, and a reload restores it', () => {
    const fits = { ...DEFAULT_SETTINGS, prompt: 'a'.repeat(MAX_LINK_PROMPT_CHARS) };
    expect(promptFitsLink(fits.prompt)).toBe(true);
    expect(new URLSearchParams(settingsToSearch(fits)).get('prompt')).toBe(fits.prompt);
    expect(linkPromptNote(fits.prompt)).toBeNull();
    // Encoded length counts: 700 'é' are 4,200 characters in an address.
    expect(promptFitsLink('é'.repeat(700))).toBe(false);

    const long = { ...DEFAULT_SETTINGS, prompt: 'Holmes '.repeat(14_285) + 'Watso', seed: 7 };
    const search = settingsToSearch(long);
    expect(search.length).toBeLessThan(MAX_LINK_PROMPT_CHARS);
    expect(new URLSearchParams(search).has('prompt')).toBe(false);
    expect(new URLSearchParams(search).get('seed')).toBe('7');
    const stored = settingsToStorage(long);
    expect(initialSettings(search, stored)).toEqual(long);
    expect(linkPromptNote(long.prompt)).toBe(
      "This prompt (100,000 characters) is too long for the page's address, which carries prompts up to 2,000 characters once encoded: a copied link opens without it. A reload in this browser keeps it (it is saved here).",
    );
  });
});
