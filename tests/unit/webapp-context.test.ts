/**
 * Honest context on the page: what it says before a run that overflows the model's context (the
 * same fit generation's planGeneration makes), and which start of the prompt a pane shows as not read.
 */
import { describe, expect, test } from 'vitest';
import { planGeneration } from '../../src/generation/generate';
import { decode, encode, tokenBytes } from '../../src/tokenizer';
import { panesOf } from '../../src/ui/panes';
import { contextFit, contextWarning } from '../../src/ui/settings';
import { droppedPrompt, promptTokensAtMost } from '../../src/ui/tokenText';
import { generateOptions, msg, run } from '../helpers/appActions';

describe('the context before a run', () => {
  test('contextFit makes the fit planGeneration makes, for every prompt and budget around a context of 16', () => {
    for (let prompt = 1; prompt <= 20; prompt++) {
      for (let maxNew = 1; maxNew <= 24; maxNew++) {
        const plan = planGeneration(Array<number>(prompt).fill(7), { max_new_tokens: maxNew, max_length: 20 }, 16);
        const fit = contextFit(prompt, maxNew, 16);
        expect([fit.maxNewTokens, fit.droppedPromptTokens], `prompt ${prompt}, ${maxNew} new`).toEqual([
          plan.maxNewTokens,
          plan.droppedPromptTokens,
        ]);
        // room: the largest budget that leaves the whole prompt in.
        const keeps = (n: number) =>
          planGeneration(Array<number>(prompt).fill(7), { max_new_tokens: n, max_length: 20 }, 16).droppedPromptTokens === 0;
        expect(fit.room === 0 ? !keeps(1) : keeps(fit.room) && (fit.room === 15 || !keeps(fit.room + 1))).toBe(true);
      }
    }
  });

  test("the built-in model's 256: 512 new tokens after a 7-token prompt are refused in words, with the context size and the fix", () => {
    expect(contextWarning(7, 249, 256)).toBeNull();
    expect(contextWarning(7, 250, 256)).toBe(
      "The model's context holds 256 tokens: a 7-token prompt and 250 new tokens do not fit. " +
        'The model would not read the first 1 token of the prompt (struck out in the output). ' +
        'Set Max new tokens to 249 or less to keep the whole prompt.',
    );
    expect(contextWarning(7, 512, 256)).toBe(
      "The model's context holds 256 tokens: a 7-token prompt and 512 new tokens do not fit. " +
        'The run would write at most 255 new tokens. ' +
        'The model would not read the first 6 tokens of the prompt (struck out in the output). ' +
        'Set Max new tokens to 249 or less to keep the whole prompt.',
    );
    expect(contextWarning(300, 10, 256)).toMatch(/not read the first 54 tokens of the prompt.*Shorten the prompt to keep all of it\.$/);
    // An empty prompt is one token (<|endoftext|>).
    expect(contextFit(0, 10, 256)).toEqual({ room: 255, maxNewTokens: 10, droppedPromptTokens: 0 });
  });
});

test('a prompt is never more tokens than its UTF-8 bytes, so a short prompt needs no tokenizer to be known to fit', () => {
  for (const text of ['', ' ', 'To Sherlock Holmes she is always', 'a 🦊 fox', 'ééé', '<|endoftext|>', '\n\n\t', '1234567890'.repeat(30)]) {
    expect(promptTokensAtMost(text), text).toBeGreaterThanOrEqual(Math.max(1, encode(text).length));
  }
  expect(promptTokensAtMost('')).toBe(1);
});

describe('a pane shows the start of the prompt the model did not read', () => {
  const prompt = 'To Sherlock Holmes she is always the woman.';
  const ids = encode(prompt);

  test('nothing when it read every token; the left-out start when it read only the last ones', () => {
    expect(droppedPrompt(prompt, ids, tokenBytes)).toBeNull();
    const read = ids.slice(5); // as planGeneration leaves them
    expect(droppedPrompt(prompt, read, tokenBytes)).toEqual({ dropped: decode(ids.slice(0, 5)), read: decode(read) });
    expect(droppedPrompt(prompt, ids.slice(-1), tokenBytes)?.read).toBe('.');
  });

  test('an empty prompt (the model read <|endoftext|>) drops nothing; a character split at the cut shows as U+FFFD', () => {
    expect(droppedPrompt('', [50256], tokenBytes)).toBeNull();
    const text = 'a 🦊 fox';
    const all = encode(text);
    // The fox emoji is several byte tokens: cut inside it.
    const cut = all.findIndex((_, i) => i > 0 && decode(all.slice(0, i + 1)).includes('\uFFFD'));
    expect(cut).toBeGreaterThan(0);
    const parts = droppedPrompt(text, all.slice(cut + 1), tokenBytes)!;
    expect(parts.dropped.endsWith('\uFFFD')).toBe(true);
    expect(parts.read.startsWith('\uFFFD')).toBe(true);
    expect(parts.read.endsWith(' fox')).toBe(true);
  });
});

describe('a branch that overflows the context', () => {
  test('keeps only the prefix ids the model read, so its pane strikes out the rest of its text', () => {
    const text = 'To Sherlock Holmes she is always the woman.';
    const prefix = encode(text);
    const options = generateOptions({ max_new_tokens: 250 });
    const started = (dropped: number) =>
      run([
        {
          type: 'branch-started',
          branch: {
            requestId: 5,
            origin: 'Output 1 › token 3',
            parent: 'run-0',
            step: 2,
            prefixText: text,
            prefixIds: prefix,
            options,
            tokens: [],
          },
        },
        msg({ type: 'started', id: 5, promptIds: [...prefix, 262].slice(dropped), droppedPromptTokens: dropped, seed: 42 }),
      ]);
    const whole = started(0);
    expect(whole.branches[0].prefixIds).toBe(prefix);
    const cut = started(4);
    const pane = panesOf(cut).find((p) => p.branch)!;
    expect(pane.promptIds).toEqual(prefix.slice(4));
    expect(droppedPrompt(pane.promptText, pane.promptIds!, tokenBytes)).toEqual({
      dropped: decode(prefix.slice(0, 4)),
      read: decode(prefix.slice(4)),
    });
  });
});
