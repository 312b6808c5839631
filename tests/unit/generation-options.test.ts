import { describe, expect, it } from 'vitest';
import { GenerationOptionError, validateOptions, type GenerationOptions } from '../../src/generation/options';
import { OPTION_SPECS, optionSpec, type OptionSpec } from '../../src/generation/optionSpecs';
import { StoppingCriteria } from '../../src/generation/stopping';
import { planGeneration } from '../../src/generation/generate';

describe('validateOptions', () => {
  it('fills in Hugging Face GenerationConfig defaults', () => {
    expect(validateOptions({})).toEqual({
      max_new_tokens: null,
      max_length: 20,
      do_sample: false,
      repetition_penalty: 1,
      no_repeat_ngram_size: 0,
      temperature: 1,
      top_h: null,
      top_k: 50,
      top_p: 1,
      min_p: 0,
      typical_p: 1,
      epsilon_cutoff: 0,
      eta_cutoff: 0,
      num_beams: 1,
      length_penalty: 1,
      early_stopping: false,
      num_return_sequences: 1,
      seed: null,
      eos_token_id: undefined,
      stop: [],
    });
  });

  it('accepts the notebook settings and the edges of every range', () => {
    expect(() =>
      validateOptions({ do_sample: true, max_length: 20, top_k: 50, top_p: 0.95, num_return_sequences: 3, seed: 42 }),
    ).not.toThrow();
    expect(() =>
      validateOptions({ do_sample: true, top_k: 0, top_p: 0, min_p: 1, temperature: 0, seed: 4294967295, eos_token_id: null }),
    ).not.toThrow();
    expect(() => validateOptions({ top_p: 1, min_p: 0, repetition_penalty: 0.5, stop: ['\n\n'] })).not.toThrow();
  });

  const invalid: [GenerationOptions, string, string][] = [
    [{ top_p: 1.5 }, 'top_p', '[0, 1]'],
    [{ top_p: -0.1 }, 'top_p', '[0, 1]'],
    [{ top_p: Number.NaN }, 'top_p', 'NaN'],
    [{ top_k: -1 }, 'top_k', '>= 0'],
    [{ top_k: 2.5 }, 'top_k', 'integer'],
    [{ temperature: -0.5 }, 'temperature', '>= 0'],
    [{ temperature: Number.NaN }, 'temperature', 'NaN'],
    [{ temperature: Infinity }, 'temperature', 'Infinity'],
    [{ max_new_tokens: 0 }, 'max_new_tokens', '>= 1'],
    [{ max_new_tokens: 3.5 }, 'max_new_tokens', 'integer'],
    [{ max_length: 0 }, 'max_length', '>= 1'],
    [{ num_return_sequences: 0 }, 'num_return_sequences', 'from 1'],
    [{ num_return_sequences: 1.5 }, 'num_return_sequences', 'integer'],
    [{ repetition_penalty: 0 }, 'repetition_penalty', '> 0'],
    [{ repetition_penalty: -1 }, 'repetition_penalty', '> 0'],
    [{ min_p: 2 }, 'min_p', '[0, 1]'],
    [{ min_p: -0.01 }, 'min_p', '[0, 1]'],
    [{ seed: 1.5 }, 'seed', 'integer'],
    [{ seed: -5 }, 'seed', 'from 0 to 4294967295'],
    [{ do_sample: 'yes' as unknown as boolean }, 'do_sample', 'true or false'],
    [{ eos_token_id: -3 }, 'eos_token_id', '>= 0'],
    [{ stop: [''] }, 'stop', 'non-empty'],
    [{ stop: 'END' as unknown as string[] }, 'stop', 'array'],
    [{ topK: 5 } as unknown as GenerationOptions, 'topK', 'unknown option'],
    [{ num_return_sequences: 3 }, 'num_return_sequences', 'do_sample=true'],
    [{ num_return_sequences: 2, do_sample: true, temperature: 0 }, 'num_return_sequences', 'greedy'],
    [{ no_repeat_ngram_size: -1 }, 'no_repeat_ngram_size', 'an integer >= 0 (0 = off)'],
    [{ no_repeat_ngram_size: 1.5 }, 'no_repeat_ngram_size', 'integer'],
    [{ top_h: 0 }, 'top_h', '(0, 1]'],
    [{ top_h: 1.01 }, 'top_h', '(0, 1]'],
    [{ typical_p: 0 }, 'typical_p', '(0, 1] (1 = off)'],
    [{ typical_p: 1.5 }, 'typical_p', '(0, 1]'],
    [{ epsilon_cutoff: 1 }, 'epsilon_cutoff', '[0, 1) (0 = off)'],
    [{ epsilon_cutoff: -0.1 }, 'epsilon_cutoff', '[0, 1)'],
    [{ eta_cutoff: 1 }, 'eta_cutoff', '[0, 1) (0 = off)'],
    [{ eta_cutoff: Number.NaN }, 'eta_cutoff', '[0, 1)'],
    [{ num_beams: 0 }, 'num_beams', 'from 1 to 16'],
    [{ num_beams: 2.5 }, 'num_beams', 'integer'],
    [{ length_penalty: Infinity }, 'length_penalty', 'finite'],
    [{ early_stopping: 'sometimes' as unknown as boolean }, 'early_stopping', 'true, false or "never"'],
    [{ num_beams: 2, num_return_sequences: 3 }, 'num_return_sequences', 'at most num_beams (2)'],
  ];
  for (const [options, name, allowed] of invalid) {
    it(`rejects ${JSON.stringify(options) ?? String(options)} naming ${name}, the value and the allowed range`, () => {
      let error: unknown;
      try {
        validateOptions(options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GenerationOptionError);
      const message = (error as Error).message;
      expect(message).toContain(name);
      expect(message).toContain(allowed);
      expect((error as GenerationOptionError).option).toBe(name);
      const value = (options as Record<string, unknown>)[name];
      expect(message).toContain(typeof value === 'string' ? JSON.stringify(value) : String(value));
    });
  }
});

describe('OPTION_SPECS: every option described once', () => {
  const specs = OPTION_SPECS as readonly OptionSpec[];

  it('names each option once, each with a label, a hint, a range and a documentation link', () => {
    expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
    expect(Object.keys(validateOptions({})).sort()).toEqual(specs.map((s) => s.name).sort());
    for (const spec of specs) {
      expect(spec.label.length).toBeGreaterThan(0);
      expect(spec.hint.endsWith('.')).toBe(true);
      expect(spec.url).toMatch(/^https:\/\/huggingface\.co\//);
    }
    expect(new Set(specs.filter((s) => s.cliFlag).map((s) => s.cliFlag)).size).toBe(specs.filter((s) => s.cliFlag).length);
  });

  it("accepts its own default and its control's span, and refuses values just outside HF's range", () => {
    for (const spec of specs) {
      if (spec.default !== undefined && !(spec.default === null && !spec.accepts(null)))
        expect(spec.accepts(spec.default), spec.name).toBe(true); // null: not set (max_new_tokens, seed)
      if (spec.control) {
        expect(spec.accepts(spec.control.min), spec.name).toBe(true);
        expect(spec.accepts(spec.control.max), spec.name).toBe(true);
      }
    }
    expect(optionSpec('typical_p').accepts(0)).toBe(false);
    expect(optionSpec('typical_p').accepts(1)).toBe(true);
    expect(optionSpec('epsilon_cutoff').accepts(1)).toBe(false);
    expect(optionSpec('top_h').accepts(null)).toBe(true);
  });
});

describe('planGeneration (context window)', () => {
  it('turns max_length into a new-token budget that counts the prompt', () => {
    expect(planGeneration([1, 2, 3, 4], { max_new_tokens: null, max_length: 20 }, 1024)).toMatchObject({
      maxNewTokens: 16,
      droppedPromptTokens: 0,
      promptIds: [1, 2, 3, 4],
      warnings: [],
    });
  });

  it('lets max_new_tokens win over max_length, as HF does', () => {
    expect(planGeneration([1, 2, 3], { max_new_tokens: 5, max_length: 4 }, 1024).maxNewTokens).toBe(5);
  });

  it('rejects a max_length the prompt already reaches, saying what to do', () => {
    expect(() => planGeneration([1, 2, 3, 4, 5], { max_new_tokens: null, max_length: 5 }, 1024)).toThrow(
      /max_length = 5.*already 5 tokens.*max_new_tokens/,
    );
  });

  it('keeps the most recent prompt tokens that fit and reports how many were dropped', () => {
    const prompt = Array.from({ length: 60 }, (_, i) => i);
    const plan = planGeneration(prompt, { max_new_tokens: 10, max_length: 20 }, 64);
    expect(plan.droppedPromptTokens).toBe(6);
    expect(plan.promptIds).toEqual(prompt.slice(6));
    expect(plan.warnings.join(' ')).toMatch(/first 6 prompt tokens were left out/);
  });

  it('clamps a budget longer than the context and says so', () => {
    const plan = planGeneration([1, 2, 3], { max_new_tokens: 500, max_length: 20 }, 64);
    expect(plan.maxNewTokens).toBe(63);
    expect(plan.promptIds).toEqual([3]);
    expect(plan.droppedPromptTokens).toBe(2);
    expect(plan.warnings[0]).toMatch(/500 new tokens do not fit.*64 tokens.*at most 63/);
  });
});

describe('StoppingCriteria', () => {
  it('stops at EOS, at the budget, and when a stop string ends inside the newest token', () => {
    const c = new StoppingCriteria(5, 50256, ['Holmes']);
    expect(c.check(50256, 1, '', 0)).toBe('eos');
    expect(c.check(11, 5, 'abc', 2)).toBe('length');
    expect(c.check(11, 2, 'Mr. Hol', 4)).toBeNull();
    expect(c.check(11, 3, 'Mr. Holmes.', 7)).toBe('stop'); // spans two tokens, ends mid-token
    expect(c.check(11, 4, 'Mr. Holmes. Then', 11)).toBeNull(); // an older match does not count again
  });

  it('never stops at EOS when eos_token_id is null', () => {
    expect(new StoppingCriteria(5, null, []).check(50256, 1, '<|endoftext|>', 0)).toBeNull();
  });
});
