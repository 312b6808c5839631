// The live beam tree's reducer (src/ui/beamTree.ts) over hand-written BeamEvents, and the app
// state that feeds it from the worker's 'beam' messages.
import { describe, expect, test } from 'vitest';
import type { BeamEvent } from '../../src/generation/beamSearch';
import { beamEdges, beamTreeReducer, emptyBeamTree, pathTo } from '../../src/ui/beamTree';
import { generateOptions, msg, run } from '../helpers/appActions';

/** Two beams, three steps: step 0 extends the prompt, step 1 crosses the beams over, step 2 finishes. */
const EVENTS: BeamEvent[] = [
  {
    type: 'step',
    step: 0,
    beams: [
      { ids: [], logprob: 0 },
      { ids: [], logprob: -1e9 },
    ],
    candidates: [
      { parent: 0, tokenId: 10, logprob: -1, status: 'kept', beam: 0 },
      { parent: 0, tokenId: 11, logprob: -2, status: 'kept', beam: 1 },
      { parent: 0, tokenId: 12, logprob: -3, status: 'pruned' },
      { parent: 0, tokenId: 13, logprob: -4, status: 'pruned' },
    ],
    finished: [],
  },
  {
    type: 'step',
    step: 1,
    beams: [
      { ids: [10], logprob: -1 },
      { ids: [11], logprob: -2 },
    ],
    candidates: [
      { parent: 1, tokenId: 20, logprob: -2.5, status: 'kept', beam: 0 },
      { parent: 0, tokenId: 21, logprob: -2.7, status: 'finished', score: -1.35 },
      { parent: 0, tokenId: 22, logprob: -3, status: 'kept', beam: 1 },
      { parent: 1, tokenId: 23, logprob: -5, status: 'pruned' },
    ],
    finished: [{ ids: [10, 21], logprob: -2.7, score: -1.35 }],
  },
  {
    type: 'step',
    step: 2,
    beams: [
      { ids: [11, 20], logprob: -2.5 },
      { ids: [10, 22], logprob: -3 },
    ],
    candidates: [
      { parent: 1, tokenId: 30, logprob: -3.3, status: 'finished', score: -1.1 },
      { parent: 0, tokenId: 31, logprob: -3.6, status: 'finished', score: -1.2 },
      { parent: 0, tokenId: 32, logprob: -4, status: 'pruned' },
      { parent: 1, tokenId: 33, logprob: -6, status: 'pruned' },
    ],
    finished: [
      { ids: [10, 22, 30], logprob: -3.3, score: -1.1 },
      { ids: [11, 20, 31], logprob: -3.6, score: -1.2 },
    ],
  },
  {
    type: 'done',
    ranking: [{ ids: [10, 22, 30], logprob: -3.3, score: -1.1 }],
    reason: 'length',
  },
];

describe('beam tree', () => {
  test('each step adds its candidates, linked to the kept node they extend; done sets the ranking', () => {
    const tree = EVENTS.reduce(beamTreeReducer, emptyBeamTree);
    expect(tree.steps.map((s) => s.map((n) => n.status))).toEqual([
      ['kept', 'kept', 'pruned', 'pruned'],
      ['kept', 'finished', 'kept', 'pruned'],
      ['finished', 'finished', 'pruned', 'pruned'],
    ]);
    // Step 0 extends the prompt; step 1's parent beam 1 is step 0's node 1 (token 11), beam 0 its node 0.
    expect(tree.steps[0].map((n) => n.parent)).toEqual([null, null, null, null]);
    expect(tree.steps[1].map((n) => n.parent)).toEqual([1, 0, 0, 1]);
    // Step 2's beam 0 is step 1's node 0 (token 20), its beam 1 step 1's node 2 (token 22).
    expect(tree.steps[2].map((n) => n.parent)).toEqual([2, 0, 0, 2]);
    expect(tree.steps[1][1]).toMatchObject({ tokenId: 21, score: -1.35, beam: null });
    expect(tree.steps[1][2]).toMatchObject({ tokenId: 22, beam: 1, score: null });
    expect(tree.finished.map((h) => h.ids)).toEqual([
      [10, 22, 30],
      [11, 20, 31],
    ]);
    expect(tree.ranking).toEqual([{ ids: [10, 22, 30], logprob: -3.3, score: -1.1 }]);
    expect(tree.reason).toBe('length');
    // The path to the best hypothesis's last node spells its ids.
    const path = pathTo(tree, 2, 0);
    expect(path.map((index, step) => tree.steps[step][index].tokenId)).toEqual([10, 22, 30]);
  });

  test('the drawn edges join every candidate after step 0 to the node it extends, with its status', () => {
    const tree = EVENTS.reduce(beamTreeReducer, emptyBeamTree);
    const edges = beamEdges(tree).map((e) => `${e.from.step}:${e.from.index}>${e.to.step}:${e.to.index} ${e.status}`);
    expect(edges).toEqual([
      '0:1>1:0 kept',
      '0:0>1:1 finished',
      '0:0>1:2 kept',
      '0:1>1:3 pruned',
      '1:2>2:0 finished',
      '1:0>2:1 finished',
      '1:0>2:2 pruned',
      '1:2>2:3 pruned',
    ]);
    // Only kept nodes have children: a pruned or finished node ends its line.
    for (const edge of beamEdges(tree)) expect(tree.steps[edge.from.step][edge.from.index].status).toBe('kept');
    expect(beamEdges(emptyBeamTree)).toEqual([]);
  });

  test('a run with num_beams > 1 grows its tree from its own beam messages only', () => {
    const options = generateOptions({ num_beams: 2, do_sample: false, num_return_sequences: 1 });
    const state = run([
      { type: 'generate-started', id: 7, prompt: 'Hi', options },
      msg({ type: 'beam', id: 7, event: EVENTS[0] }),
      msg({ type: 'beam', id: 6, event: EVENTS[1] }), // an older request's: ignored
      msg({ type: 'beam', id: 7, event: EVENTS[1] }),
    ]);
    expect(state.run.beamTree?.steps.length).toBe(2);
    expect(state.run.beamTree?.ranking).toBeNull();
    const sampled = run([{ type: 'generate-started', id: 8, prompt: 'Hi', options: generateOptions() }]);
    expect(sampled.run.beamTree).toBeNull();
  });

  test('a branch with num_beams > 1 grows a tree of its own from its beam messages; the run’s tree and other branches are untouched', () => {
    const runOptions = generateOptions({ num_beams: 2, do_sample: false, num_return_sequences: 1 });
    const branch = (requestId: number, numBeams: number) => ({
      type: 'branch-started' as const,
      branch: {
        requestId,
        origin: `Output 1 › token 2 › "x${requestId}"`,
        parent: 'run-0',
        step: 1,
        prefixText: 'Hi',
        prefixIds: [1, 2],
        options: generateOptions({ num_beams: numBeams, do_sample: false, num_return_sequences: 1 }),
        tokens: [{ id: 9, text: 'x' }],
      },
    });
    const state = run([
      { type: 'generate-started', id: 7, prompt: 'Hi', options: runOptions },
      msg({ type: 'beam', id: 7, event: EVENTS[0] }),
      branch(8, 2),
      branch(9, 1),
      msg({ type: 'beam', id: 8, event: EVENTS[0] }),
      msg({ type: 'beam', id: 8, event: EVENTS[1] }),
      msg({ type: 'beam', id: 8, event: EVENTS[2] }),
      msg({ type: 'beam', id: 8, event: EVENTS[3] }),
    ]);
    expect(state.run.beamTree?.steps.length).toBe(1);
    const [beams, greedy] = state.branches;
    expect(beams.beamTree?.steps.length).toBe(3);
    expect(beams.beamTree?.ranking).toEqual([{ ids: [10, 22, 30], logprob: -3.3, score: -1.1 }]);
    expect(greedy.beamTree).toBeNull();
  });
});
