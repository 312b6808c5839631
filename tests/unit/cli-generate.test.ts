/**
 * `generate` on the command line: every flag, the notebook defaults, streaming output, --json with
 * timings, and one-line errors for bad values. In-process on the tiny fixture (tfjs cpu).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { generationOptions } from '../../src/cli/commands/generate';
import { fixtureDir, fixtureExpected } from '../helpers/fixture';
import { decode, tokenBytes } from '../../src/tokenizer';

async function runCli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ') + '\n'));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('\n'), writes: write.mock.calls.length };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

const base = ['generate', '--model', fixtureDir, '--backend', 'cpu', '--prompt', 'Watson you are'];

afterEach(() => vi.restoreAllMocks());

describe('generate flags → GenerationOptions', () => {
  const parse = (values: Record<string, unknown>) => generationOptions(values as Parameters<typeof generationOptions>[0]);

  it('samples with the notebook defaults (top-k 50, top-p 0.95) when nothing is given', () => {
    expect(parse({ greedy: false }).options).toEqual({ do_sample: true, max_new_tokens: 20, top_k: 50, top_p: 0.95 });
  });

  it('maps every flag onto its Hugging Face option', () => {
    const { options } = parse({
      greedy: false,
      'max-length': '20',
      temperature: '0.7',
      'top-k': '0',
      'top-p': '0.9',
      'min-p': '0.05',
      'repetition-penalty': '1.3',
      seed: '42',
      'num-return-sequences': '3',
      stop: ['\\n', 'END'],
    });
    expect(options).toEqual({
      do_sample: true,
      max_length: 20,
      temperature: 0.7,
      top_k: 0,
      top_p: 0.9,
      min_p: 0.05,
      repetition_penalty: 1.3,
      seed: 42,
      num_return_sequences: 3,
      stop: ['\n', 'END'],
    });
  });

  it('--greedy turns sampling off and notes the sampling flags it ignores', () => {
    const { options, notes } = parse({ greedy: true, 'top-k': '5', 'max-new-tokens': '7' });
    expect(options).toEqual({ do_sample: false, max_new_tokens: 7 });
    expect(notes).toEqual(['--top-k has no effect with --greedy (as in Hugging Face)']);
  });
});

describe('generate command', () => {
  it('warns, as Hugging Face does, when --max-new-tokens and --max-length are both given; --max-new-tokens wins', async () => {
    const run = await runCli([...base, '--greedy', '--max-new-tokens', '3', '--max-length', '30', '--json']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      'note: both --max-new-tokens (3) and --max-length (30) were given: --max-new-tokens takes precedence, as in Hugging Face',
    );
    expect(JSON.parse(run.stdout).sequences[0].ids).toHaveLength(3);
  });

  it('--json prints one entry per sequence and the timings; the same seed gives the same text', async () => {
    const args = [...base, '--seed', '42', '--num-return-sequences', '3', '--max-length', '12', '--json'];
    const first = await runCli(args);
    expect(first.code).toBe(0);
    const json = JSON.parse(first.stdout);
    expect(json.sequences).toHaveLength(3);
    for (const s of json.sequences) {
      expect(Object.keys(s).sort()).toEqual(['ids', 'text']);
      expect(s.ids).toHaveLength(12 - 4);
    }
    expect(new Set(json.sequences.map((s: { text: string }) => s.text)).size).toBe(3);
    expect(json.timings.newTokens).toBe(24);
    expect(json.timings.prefillMs).toBeGreaterThan(0);
    expect(json.timings.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(json.seed).toBe(42);
    const second = JSON.parse((await runCli(args)).stdout);
    expect(second.sequences).toEqual(json.sequences);
  });

  it('streams tokens to stdout as they come, and the streamed text equals the --json text', async () => {
    const streamed = await runCli([...base, '--seed', '7', '--max-new-tokens', '6']);
    expect(streamed.code).toBe(0);
    expect(streamed.writes).toBeGreaterThanOrEqual(6); // one write per token, then the newline
    const json = JSON.parse((await runCli([...base, '--seed', '7', '--max-new-tokens', '6', '--json'])).stdout);
    expect(streamed.stdout).toBe(`${json.sequences[0].text}\n`);
    expect(streamed.stderr).toMatch(/6 tokens on cpu \(f32 weights\): prefill \d+ ms, [\d.]+ tokens\/s, seed 7/);
  });

  it('--dtype q8 and f16 load the matrices in that precision (greedy ids of f16 unchanged); an unknown --dtype is refused', async () => {
    const q8 = JSON.parse((await runCli([...base, '--greedy', '--max-new-tokens', '5', '--dtype', 'q8', '--json'])).stdout);
    expect(q8.precision).toBe('q8');
    expect(q8.sequences[0].ids).toHaveLength(5);
    const f16 = JSON.parse((await runCli([...base, '--greedy', '--max-new-tokens', '5', '--dtype', 'f16', '--json'])).stdout);
    expect(f16.precision).toBe('f16');
    expect(f16.sequences[0].ids).toEqual([5978, 12121, 41073, 7820, 22585]);
    const auto = JSON.parse((await runCli([...base, '--greedy', '--max-new-tokens', '1', '--json'])).stdout);
    expect(auto.precision).toBe('f32'); // auto: a small model stays exact
    const bad = await runCli([...base, '--dtype', 'int4']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: --dtype must be one of auto, f32, f16, q8, got 'int4'/);
  });

  it('labels each sequence when there are several', async () => {
    const run = await runCli([...base, '--seed', '3', '--num-return-sequences', '2', '--max-new-tokens', '4']);
    const json = JSON.parse(
      (await runCli([...base, '--seed', '3', '--num-return-sequences', '2', '--max-new-tokens', '4', '--json'])).stdout,
    );
    expect(run.stdout).toBe(`[1] ${json.sequences[0].text}\n[2] ${json.sequences[1].text}\n`);
  });

  it('--greedy decodes greedily, and --stop ends a sequence', async () => {
    const greedy = JSON.parse((await runCli([...base, '--greedy', '--max-new-tokens', '5', '--json'])).stdout);
    expect(greedy.sequences[0].ids).toEqual([5978, 12121, 41073, 7820, 22585]); // the fixture's HF greedy ids
    expect(greedy.seed).toBeNull();
    const stopped = JSON.parse((await runCli([...base, '--greedy', '--max-new-tokens', '10', '--stop', 'extremely', '--json'])).stdout);
    expect(stopped.sequences[0].text).toBe('olt genreextremely');
  });

  it('--ids gives the prompt as token ids: the same run as --prompt with that text, and a seeded run replays exactly', async () => {
    const byText = JSON.parse((await runCli([...base, '--greedy', '--max-new-tokens', '5', '--json'])).stdout);
    const ids = ['generate', '--model', fixtureDir, '--backend', 'cpu', '--ids', '54,13506,345,389'];
    const byIds = JSON.parse((await runCli([...ids, '--greedy', '--max-new-tokens', '5', '--json'])).stdout);
    expect(byIds.sequences).toEqual(byText.sequences);
    const seeded = [...ids, '--seed', '9', '--max-new-tokens', '6', '--json'];
    const [one, two] = [JSON.parse((await runCli(seeded)).stdout), JSON.parse((await runCli(seeded)).stdout)];
    expect(one.sequences[0].ids).toEqual(two.sequences[0].ids);
  });

  it('takes exactly one of --prompt and --ids', async () => {
    const both = await runCli([...base, '--ids', '1,2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(
      /^error: give the prompt as --prompt TEXT or as --ids ID,ID,\.\.\., not both\nusage: generate \(--prompt TEXT \| --ids ID,ID,\.\.\.\)/,
    );
    const neither = await runCli(['generate', '--model', fixtureDir, '--backend', 'cpu']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/^error: missing the prompt: give --prompt TEXT or --ids ID,ID,\.\.\./);
    const badIds = await runCli(['generate', '--model', fixtureDir, '--ids', '54,x']);
    expect(badIds.code).toBe(2);
    expect(badIds.stderr).toMatch(/^error: --ids must be comma-separated token ids/);
    const outside = await runCli(['generate', '--model', fixtureDir, '--ids', '54,50257']);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/^error: token id 50257 is outside the vocabulary \[0, 50257\)/);
  });

  const bad: [string[], RegExp][] = [
    [['--top-p', '1.5'], /^error: --top-p 1\.5: expected a number in \[0, 1\]/],
    [['--top-k=-1'], /^error: --top-k -1: expected an integer >= 0/],
    [['--top-k', 'many'], /^error: --top-k must be an integer >= 0 \(0 = off\), got 'many'/],
    [['--top-p', 'high'], /^error: --top-p must be a number in \[0, 1\] \(1 = off\), got 'high'/],
    [['--temperature=-1'], /^error: --temperature -1: expected a number >= 0/],
    [['--min-p', '2'], /^error: --min-p 2: expected a number in \[0, 1\]/],
    [['--repetition-penalty', '0'], /^error: --repetition-penalty 0: expected a number > 0/],
    [['--num-return-sequences', '0'], /^error: --num-return-sequences 0: expected an integer from 1/],
    [['--max-new-tokens', '0'], /^error: --max-new-tokens 0: expected an integer >= 1/],
    [['--max-length', '2'], /^error: --max-length 2: it counts the prompt, which is already 4 tokens long/],
    [['--seed', '1.5'], /^error: --seed 1\.5: expected an integer/],
    [['--greedy', '--num-return-sequences', '2'], /^error: --num-return-sequences 2: greedy decoding/],
    [['--top-q', '1'], /^error: Unknown option '--top-q'/],
    [['--typical-p', '0'], /^error: --typical-p 0: expected a number in \(0, 1\] \(1 = off\)/],
    [['--epsilon-cutoff', '1'], /^error: --epsilon-cutoff 1: expected a number in \[0, 1\) \(0 = off\)/],
    [['--eta-cutoff=-0.1'], /^error: --eta-cutoff -0\.1: expected a number in \[0, 1\)/],
    [['--top-h', '2'], /^error: --top-h 2: expected a number in \(0, 1\]/],
    [['--no-repeat-ngram-size', '1.5'], /^error: --no-repeat-ngram-size 1\.5: expected an integer >= 0/],
    [['--num-beams', '0'], /^error: --num-beams 0: expected an integer from 1 to 16/],
    [['--num-beams', '2', '--num-return-sequences', '3'], /^error: --num-return-sequences 3: beam search returns at most num_beams \(2\)/],
    [['--early-stopping', 'soon'], /^error: --early-stopping must be true, false or "never", got 'soon'/],
    [['--length-penalty', 'long'], /^error: --length-penalty must be a finite number, got 'long'/],
    [['--eos-token-id', 'x'], /^error: --eos-token-id must be an integer >= 0 or 'none', got 'x'/],
    // Hugging Face raises for temperature 0 when sampling (the page keeps 0 = greedy, and says so).
    [
      ['--temperature', '0'],
      /^error: --temperature 0: must be above 0 when sampling, as in Hugging Face; for greedy decoding use --greedy$/m,
    ],
    [['--temperature', '0.000'], /^error: --temperature 0\.000: must be above 0 when sampling/],
    // Values are echoed as typed, not after float rounding.
    [['--seed', '9007199254740993'], /^error: --seed 9007199254740993: expected an integer/],
    [['--temperature', '1e400'], /^error: --temperature 1e400: expected a number >= 0/],
    [['--top-p', '1.00000000000000003e1'], /^error: --top-p 1\.00000000000000003e1: expected a number in \[0, 1\]/],
  ];
  for (const [flags, message] of bad) {
    it(`rejects ${flags.join(' ')} with a one-line error and exit code 2`, async () => {
      const run = await runCli([...base, ...flags]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.split('\n')[1]).toMatch(/^usage: generate/);
      expect(run.stdout).toBe('');
    });
  }
});

describe('generate: the other warpers and beam search', () => {
  it('maps the new flags onto their Hugging Face options', () => {
    const parse = (values: Record<string, unknown>) => generationOptions(values as Parameters<typeof generationOptions>[0]);
    expect(
      parse({
        greedy: false,
        'typical-p': '0.5',
        'epsilon-cutoff': '0.01',
        'eta-cutoff': '0.002',
        'top-h': '0.4',
        'no-repeat-ngram-size': '2',
        'eos-token-id': 'none',
      }).options,
    ).toEqual({
      do_sample: true,
      max_new_tokens: 20,
      top_k: 50,
      top_p: 0.95,
      typical_p: 0.5,
      epsilon_cutoff: 0.01,
      eta_cutoff: 0.002,
      top_h: 0.4,
      no_repeat_ngram_size: 2,
      eos_token_id: null,
    });
    const beams = parse({
      greedy: false,
      'num-beams': '4',
      'length-penalty': '0.5',
      'early-stopping': 'never',
      'top-k': '5',
      'eos-token-id': '13',
    });
    expect(beams.options).toEqual({
      do_sample: false,
      max_new_tokens: 20,
      num_beams: 4,
      length_penalty: 0.5,
      early_stopping: 'never',
      eos_token_id: 13,
    });
    expect(beams.notes).toEqual(['--top-k has no effect with --num-beams (beam search) (as in Hugging Face)']);
    expect(parse({ greedy: true, 'length-penalty': '2' }).notes).toEqual([
      '--length-penalty has no effect without --num-beams above 1 (as in Hugging Face)',
    ]);
  });

  it('--num-beams runs HF beam search: --json gives each sequence its sequence_score (fixture beam_search)', async () => {
    const c = (
      fixtureExpected() as unknown as {
        beam_search: { settings: Record<string, number>; sequences: number[][]; sequences_scores: number[] }[];
      }
    ).beam_search.find((x) => x.settings.num_beams === 4 && x.settings.eos_token_id === 1158)!;
    const run = await runCli([
      ...base,
      '--num-beams',
      '4',
      '--num-return-sequences',
      '4',
      '--max-new-tokens',
      '8',
      '--eos-token-id',
      '1158',
      '--json',
    ]);
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as { sequences: { ids: number[]; sequence_score: number; text: string }[]; seed: number | null };
    expect(json.sequences.map((s) => s.ids)).toEqual(c.sequences);
    json.sequences.forEach((s, i) => expect(Math.abs(s.sequence_score - c.sequences_scores[i])).toBeLessThan(1e-4));
    expect(Object.keys(json.sequences[0])).toEqual(['ids', 'sequence_score', 'text']);
    expect(json.seed).toBeNull();
    // Without --json, the best sequences print labelled, as several samples do.
    const plain = await runCli([
      ...base,
      '--num-beams',
      '4',
      '--num-return-sequences',
      '2',
      '--max-new-tokens',
      '8',
      '--eos-token-id',
      '1158',
    ]);
    expect(plain.stdout).toBe(`[1] ${json.sequences[0].text}\n[2] ${json.sequences[1].text}\n`);
  });

  it('--no-repeat-ngram-size 1 never repeats a token, prompt included', async () => {
    const run = await runCli([...base, '--greedy', '--no-repeat-ngram-size', '1', '--max-new-tokens', '10', '--json']);
    const ids = JSON.parse(run.stdout).sequences[0].ids as number[];
    expect(new Set([54, 13506, 345, 389, ...ids]).size).toBe(4 + ids.length);
  });
});

describe('generate --top-logprobs', () => {
  it('prints OpenAI-shaped records per token whose log-probabilities match the logits command', async () => {
    const { code, stdout } = await runCli([...base, '--greedy', '--max-new-tokens', '3', '--json', '--top-logprobs', '5']);
    expect(code).toBe(0);
    const seq = JSON.parse(stdout).sequences[0] as {
      ids: number[];
      tokens: {
        id: number;
        token: string;
        logprob: number;
        bytes: number[];
        top_logprobs: { id: number; token: string; logprob: number }[];
      }[];
    };
    expect(seq.tokens.map((t) => t.id)).toEqual(seq.ids);
    let prefix = [54, 13506, 345, 389];
    for (const token of seq.tokens) {
      const logits = await runCli(['logits', '--model', fixtureDir, '--backend', 'cpu', '--ids', prefix.join(','), '--json']);
      const row = JSON.parse(logits.stdout).logits as number[];
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      expect(token.logprob).toBeCloseTo(row[token.id] - lse, 5);
      expect(token.top_logprobs).toHaveLength(5);
      expect(token.top_logprobs[0].id).toBe(token.id); // greedy: the likeliest
      const order = [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, 5);
      expect(token.top_logprobs.map((t) => t.id)).toEqual(order);
      for (const alt of token.top_logprobs) expect(alt.logprob).toBeCloseTo(row[alt.id] - lse, 5);
      expect(token.token).toBe(decode([token.id])); // whole characters here: the text itself
      expect(token.bytes).toEqual([...tokenBytes(token.id)]);
      prefix = [...prefix, token.id];
    }
  });

  it('refuses a count out of range, or without --json', async () => {
    const tooMany = await runCli([...base, '--json', '--top-logprobs', '257']);
    expect(tooMany.code).not.toBe(0);
    expect(tooMany.stderr).toMatch(/--top-logprobs must be an integer from 0 to 256, got '257'/);
    const noJson = await runCli([...base, '--top-logprobs', '2']);
    expect(noJson.stderr).toMatch(/--top-logprobs needs --json/);
    const beams = await runCli([...base, '--json', '--top-logprobs', '2', '--num-beams', '2']);
    expect(beams.code).toBe(2);
    expect(beams.stderr).toMatch(/--top-logprobs records each chosen token as it is sampled; beam search chooses whole sequences/);
  });
});
