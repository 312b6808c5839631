/**
 * Export: every pane (the run's sequences, then each branch with its parent and position), each
 * token in OpenAI's record shape (`token`, `logprob`, `bytes`, `top_logprobs`) with `id` beside it,
 * the same records the CLI's `--top-logprobs` prints (tokenLogprobs).
 */
import { describe, expect, test } from 'vitest';
import type { TokenInspection } from '../../src/generation/generate';
import { pieceText, tokenLogprobs } from '../../src/generation/logprobs';
import { summarizeRow } from '../../src/model/stepLogits';
import { tokenBytes } from '../../src/tokenizer';
import { panesOf } from '../../src/ui/panes';
import { paneExport, runExport } from '../../src/ui/runExport';
import { generateOptions, msg, run } from '../helpers/appActions';

/** An inspection of a step whose logits were [3, 1, 0, -1, -2, -3] (ids 0–5), that chose `id`. */
function inspection(id: number): TokenInspection {
  const row = Float32Array.from([3, 1, 0, -1, -2, -3]);
  const logits = summarizeRow(row, 4);
  return { logprob: row[id] - logits.logSumExp, rank: id + 1, draw: 0.5, logits };
}
const LSE = Math.log([3, 1, 0, -1, -2, -3].reduce((s, x) => s + Math.exp(x), 0));

/** A finished run of two sequences ("!" then '"', and "#" then "$"), and a branch of sequence 1 at its second token. */
function state() {
  const options = generateOptions({ num_return_sequences: 2, max_new_tokens: 2 });
  const token = (sequence: number, index: number, tokenId: number) =>
    msg({
      type: 'token',
      id: 1,
      sequence,
      tokenId,
      text: pieceText(tokenBytes(tokenId)),
      index,
      elapsedMs: 1,
      inspection: inspection(tokenId),
    });
  return run([
    { type: 'generate-started', id: 1, prompt: 'Hi', options },
    msg({ type: 'started', id: 1, promptIds: [17250], droppedPromptTokens: 0, seed: 42 }),
    token(0, 0, 0),
    token(1, 0, 2),
    token(0, 1, 1),
    token(1, 1, 3),
    {
      type: 'branch-started',
      branch: {
        requestId: 2,
        origin: 'Output 2 › token 2 › "%"',
        parent: 'run-1',
        step: 1,
        prefixText: 'Hi#',
        prefixIds: [17250, 2],
        options: { ...options, num_return_sequences: 1, top_k: 3 },
        tokens: [{ id: 4, text: '%', inspection: { ...inspection(4), draw: null } }],
      },
    },
    msg({ type: 'token', id: 2, sequence: 0, tokenId: 5, text: '&', index: 1, elapsedMs: 1, inspection: inspection(5) }),
  ]);
}

describe('Export', () => {
  test('holds one sequence per pane: the run in order, then the branch with its parent and position', () => {
    const s = state();
    const exported = runExport({
      ...s.run,
      model: null,
      backend: { backend: 'wasm', reason: '', crossOriginIsolated: true },
      panes: panesOf(s),
      bytesOf: tokenBytes,
    });
    expect(exported).toMatchObject({ backend: 'wasm', prompt: 'Hi', prompt_ids: [17250], seed: 42 });
    expect(exported.sequences.map((q) => [q.key, q.parent, q.position, q.text])).toEqual([
      ['run-0', null, null, '!"'],
      ['run-1', null, null, '#$'],
      ['branch-2', 'run-1', 1, '%&'],
    ]);
    const branch = exported.sequences[2];
    expect(branch.prompt_ids).toEqual([17250, 2]);
    expect(branch.settings?.top_k).toBe(3);
    expect(branch.tokens.map((t) => t.id)).toEqual([4, 5]); // the forced token first
  });

  test("each token is OpenAI's record (token, logprob, bytes, top_logprobs) with its id", () => {
    const [first] = paneExport(panesOf(state())[0], tokenBytes).tokens;
    expect(Object.keys(first).sort()).toEqual(['bytes', 'id', 'logprob', 'token', 'top_logprobs']);
    expect(first).toMatchObject({ id: 0, token: '!', bytes: [33] });
    expect(first.logprob).toBeCloseTo(3 - LSE, 6);
    expect(first.top_logprobs.map((t) => [t.id, t.token, t.bytes])).toEqual([
      [0, '!', [33]],
      [1, '"', [34]],
      [2, '#', [35]],
      [3, '$', [36]],
    ]);
    first.top_logprobs.forEach((t, i) => expect(t.logprob).toBeCloseTo([3, 1, 0, -1][i] - LSE, 6));
  });

  test('a piece of a character is written as its bytes, and joins with the next piece into the character', () => {
    // "é" is the two bytes C3 A9; GPT-2's first 256 ids include a one-byte token for each.
    const ids = [...Array(256).keys()].filter((id) => tokenBytes(id).length === 1);
    const c3 = ids.find((id) => tokenBytes(id)[0] === 0xc3)!;
    const a9 = ids.find((id) => tokenBytes(id)[0] === 0xa9)!;
    const record = tokenLogprobs(c3, { ...inspection(0), logprob: -1 }, 0, tokenBytes);
    expect(record).toEqual({ id: c3, token: '\\xC3', logprob: -1, bytes: [0xc3], top_logprobs: [] });
    const joined = [...record.bytes, ...tokenLogprobs(a9, inspection(0), 0, tokenBytes).bytes];
    expect(new TextDecoder().decode(Uint8Array.from(joined))).toBe('é');
  });
});
