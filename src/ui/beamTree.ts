/**
 * The live beam tree's state, built from the worker's BeamEvents by a pure reducer: every step's
 * candidates (kept, pruned, finished) with the node each one extends, the finished hypotheses so
 * far, and, once the search ends, the final ranking.
 */
import type { BeamEvent } from '../worker/protocol';

/** One candidate of one step, as the tree draws it. */
export interface BeamNode {
  /** 0-based step: the index of its token among the generated ones. */
  step: number;
  tokenId: number;
  /** Cumulative log-probability (after the processors) of the sequence this node ends. */
  logprob: number;
  status: 'kept' | 'pruned' | 'finished';
  /** Index, in the previous step's nodes, of the node it extends; null at step 0 (it extends the prompt). */
  parent: number | null;
  /** With status kept: its index among the running beams of the next step. */
  beam: number | null;
  /** With status finished: its normalised score (log-probability ÷ length^length_penalty). */
  score: number | null;
}

/** A finished hypothesis in the ranking: its ids and scores. */
export interface RankedBeam {
  ids: number[];
  logprob: number;
  score: number;
}

export interface BeamTree {
  /** steps[s]: step s's candidates, best first. */
  steps: BeamNode[][];
  /** The finished hypotheses so far, best first. */
  finished: RankedBeam[];
  /** The returned hypotheses, best first, once the search ended; null while it runs. */
  ranking: RankedBeam[] | null;
  /** Why it ended; null while it runs. */
  reason: 'length' | 'early_stopping' | 'abort' | null;
}

export const emptyBeamTree: BeamTree = { steps: [], finished: [], ranking: null, reason: null };

/** The tree after `event`: a step adds its candidates (each linked to the kept node it extends); done sets the ranking. */
export function beamTreeReducer(tree: BeamTree, event: BeamEvent): BeamTree {
  if (event.type === 'done') {
    return { ...tree, ranking: event.ranking.map(ranked), reason: event.reason };
  }
  const previous = tree.steps[event.step - 1] ?? [];
  const nodes = event.candidates.map((c): BeamNode => ({
    step: event.step,
    tokenId: c.tokenId,
    logprob: c.logprob,
    status: c.status,
    parent: event.step === 0 ? null : nodeOfBeam(previous, c.parent),
    beam: c.status === 'kept' && c.beam !== undefined ? c.beam : null,
    score: c.status === 'finished' && c.score !== undefined ? c.score : null,
  }));
  const steps = tree.steps.slice(0, event.step);
  steps.push(nodes);
  return { ...tree, steps, finished: event.finished.map(ranked) };
}

/** The index of the node that became running beam `beam` (the kept node with that beam number), or null. */
function nodeOfBeam(nodes: readonly BeamNode[], beam: number): number | null {
  const index = nodes.findIndex((n) => n.status === 'kept' && n.beam === beam);
  return index < 0 ? null : index;
}

function ranked(h: { ids: number[]; logprob: number; score: number }): RankedBeam {
  return { ids: h.ids, logprob: h.logprob, score: h.score };
}

/** A node's place in the tree: its step and its index among that step's nodes. */
export interface NodeAt {
  step: number;
  index: number;
}

/** An edge of the drawn tree: from the node a candidate extends to the candidate, with the candidate's status. */
export interface BeamEdge {
  from: NodeAt;
  to: NodeAt;
  status: BeamNode['status'];
}

/** Every edge of the tree, step by step: one per candidate after step 0 (step 0's candidates extend the prompt). */
export function beamEdges(tree: BeamTree): BeamEdge[] {
  return tree.steps.flatMap((nodes, step) =>
    nodes.flatMap((node, index): BeamEdge[] =>
      node.parent === null ? [] : [{ from: { step: step - 1, index: node.parent }, to: { step, index }, status: node.status }],
    ),
  );
}

/** The path of node `index` at `step`: the indices of its ancestors' nodes, step 0 first, itself last. */
export function pathTo(tree: BeamTree, step: number, index: number): number[] {
  const path: number[] = [];
  let s = step;
  let i: number | null = index;
  while (i !== null && s >= 0) {
    path.unshift(i);
    i = tree.steps[s][i].parent;
    s--;
  }
  return path;
}
