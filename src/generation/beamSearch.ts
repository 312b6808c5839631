/**
 * Beam search's bookkeeping, as Hugging Face's `generate(num_beams=…)` does it (`_beam_search`),
 * without the model: given each running beam's processed log-probabilities for the next token,
 * pick 2 × num_beams candidates, keep the best num_beams unfinished ones running, move the
 * finished ones among the best num_beams candidates into the finished list (scored by
 * length_penalty), and decide when to stop (early_stopping and its heuristic). generate.ts runs
 * the model around it; the events it returns are what a page draws a live beam tree from.
 */
import type { RandomSource } from './sampler';

/** HF's stand-in for "impossible" in beam scores (added, never compared for equality). */
const IMPOSSIBLE = -1e9;

/** One running beam: its generated ids (prompt excluded) and the sum of their processed log-probabilities. */
export interface Beam {
  ids: number[];
  /** Cumulative log-probability (after processors): HF's running beam score. */
  logprob: number;
}

/** A finished hypothesis: its ids (an EOS that ended it included), cumulative log-probability and normalised score. */
export interface BeamHypothesis {
  ids: number[];
  logprob: number;
  /** logprob / ids.length ** length_penalty: what finished hypotheses are ranked by (HF's sequences_scores). */
  score: number;
}

/** What became of a candidate at a step. */
export type BeamCandidateStatus = 'kept' | 'pruned' | 'finished';

/** One of a step's 2 × num_beams candidates: a running beam extended by one token. */
export interface BeamCandidate {
  /** Index (among this step's running beams) of the beam it extends. */
  parent: number;
  tokenId: number;
  /** The parent's cumulative log-probability plus this token's. */
  logprob: number;
  /** kept: runs on as beam `beam`; finished: entered the finished list with `score`; pruned: dropped. */
  status: BeamCandidateStatus;
  /** With status kept: its index among the next step's running beams. */
  beam?: number;
  /** With status finished: its normalised score. */
  score?: number;
}

/** Beam search's progress, one event per step and one at the end: what a live beam tree draws. */
export type BeamEvent =
  | {
      type: 'step';
      /** 0-based: the index of the new token among the generated ones. */
      step: number;
      /** The running beams this step extended (each candidate's `parent` indexes them). */
      beams: Beam[];
      /** The candidates, best first (or in drawing order under beam sampling). */
      candidates: BeamCandidate[];
      /** Every finished hypothesis so far, best first (at most num_beams). */
      finished: BeamHypothesis[];
    }
  | {
      type: 'done';
      /** The final ranking: the returned hypotheses, best first (num_return_sequences of them). */
      ranking: BeamHypothesis[];
      /** Why the search ended: every candidate had to stop (length), early stopping, or an abort. */
      reason: 'length' | 'early_stopping' | 'abort';
    };

export interface BeamSearchSettings {
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  /** The new-token budget (HF's max_length − prompt length). */
  maxNewTokens: number;
  /** Beam sampling: candidates are drawn (without replacement) instead of taken best first. */
  random: RandomSource | null;
}

/** Whether a candidate sequence (a beam's ids plus one token) must stop there: EOS, a stop string or the budget. */
export type HitsStop = (ids: readonly number[]) => boolean;

/** The outcome of a step: the candidates and, unless the search is over, which beam each next beam continues. */
export interface BeamStepResult {
  event: Extract<BeamEvent, { type: 'step' }>;
  /** For each next running beam, the index of the beam it extends (for KVCache.reorder), and the token it adds. */
  parents: number[];
  tokens: number[];
  /** Set when the search is over after this step. */
  done: 'length' | 'early_stopping' | null;
}

export class BeamSearch {
  /** The running beams: num_beams of them; all but the first start impossible, so step 0 extends one. */
  beams: Beam[];
  /** The best finished hypotheses, best first, at most num_beams. */
  finished: BeamHypothesis[] = [];
  private improvementPossible = true;
  private stepIndex = 0;

  constructor(private readonly settings: BeamSearchSettings) {
    this.beams = Array.from({ length: settings.numBeams }, (_, b) => ({ ids: [], logprob: b === 0 ? 0 : IMPOSSIBLE }));
  }

  /**
   * One step. `scores[b]` is beam b's log-softmax over the vocabulary after the processors;
   * `hitsStop` says whether a candidate sequence must stop there.
   */
  step(scores: readonly Float64Array[], hitsStop: HitsStop): BeamStepResult {
    const { numBeams } = this.settings;
    const generated = this.stepIndex + 1; // each candidate's generated length
    const picked = this.settings.random ? this.drawCandidates(scores, 2 * numBeams) : this.bestCandidates(scores, 2 * numBeams);
    const candidates = picked.map(({ parent, tokenId, logprob }) => {
      const ids = [...this.beams[parent].ids, tokenId];
      return { parent, tokenId, logprob, ids, stops: hitsStop(ids) };
    });

    // The next running beams: the best candidates that did not stop (HF's -1e9 for those that did).
    const order = candidates
      .map((c, i) => ({ i, key: c.logprob + (c.stops ? IMPOSSIBLE : 0) }))
      .sort((a, b) => b.key - a.key || a.i - b.i)
      .slice(0, numBeams);
    const statuses: BeamCandidate[] = candidates.map(({ parent, tokenId, logprob }) => ({ parent, tokenId, logprob, status: 'pruned' }));
    order.forEach(({ i }, beam) => {
      if (!candidates[i].stops) Object.assign(statuses[i], { status: 'kept', beam }); // a stopped one only fills a place when all stopped
    });

    // Finished: candidates that stopped among the best num_beams, while the finished list can still change.
    const full = this.finished.length === numBeams;
    const accepting = this.improvementPossible && !(full && this.settings.earlyStopping === true);
    const entering = accepting
      ? candidates
          .map((c, i) => ({ c, i }))
          .filter(({ c, i }) => c.stops && i < numBeams)
          .map(({ c, i }) => ({
            i,
            hypothesis: { ids: c.ids, logprob: c.logprob, score: c.logprob / generated ** this.settings.lengthPenalty },
          }))
      : [];
    const merged = [...this.finished.map((hypothesis) => ({ i: -1, hypothesis })), ...entering]
      .sort((a, b) => b.hypothesis.score - a.hypothesis.score) // stable: earlier entries win ties, as torch.topk over the merged list
      .slice(0, numBeams);
    for (const { i, hypothesis } of merged) if (i >= 0) Object.assign(statuses[i], { status: 'finished', score: hypothesis.score });
    this.finished = merged.map(({ hypothesis }) => hypothesis);

    const previous = this.beams;
    this.beams = order.map(({ i }) => ({
      ids: candidates[i].ids,
      logprob: candidates[i].logprob + (candidates[i].stops ? IMPOSSIBLE : 0),
    }));
    this.stepIndex++;
    this.updateHeuristic(generated);

    const done = candidates.every((c) => c.stops)
      ? 'length'
      : !this.improvementPossible || (this.finished.length === numBeams && this.settings.earlyStopping === true)
        ? 'early_stopping'
        : null;
    return {
      event: { type: 'step', step: generated - 1, beams: previous, candidates: statuses, finished: [...this.finished] },
      parents: order.map(({ i }) => candidates[i].parent),
      tokens: order.map(({ i }) => candidates[i].tokenId),
      done,
    };
  }

  /** The `count` best hypotheses, best first. */
  ranking(count: number): BeamHypothesis[] {
    return this.finished.slice(0, count);
  }

  /**
   * HF's early-stop heuristic: once num_beams hypotheses finished, stop when the best running
   * beam, at the best length it could reach, cannot beat the worst of them (sticky).
   */
  private updateHeuristic(generated: number): void {
    const { earlyStopping, lengthPenalty, maxNewTokens, numBeams } = this.settings;
    const length = earlyStopping === 'never' && lengthPenalty > 0 ? maxNewTokens : generated;
    const bestPossible = this.beams[0].logprob / length ** lengthPenalty;
    const worstFinished = this.finished.length === numBeams ? this.finished[numBeams - 1].score : IMPOSSIBLE;
    this.improvementPossible &&= bestPossible > worstFinished;
  }

  /** The `count` largest of beam logprob + token score over every beam and token (ties: lower beam, then lower id). */
  private bestCandidates(scores: readonly Float64Array[], count: number): Omit<BeamCandidate, 'status'>[] {
    const best: Omit<BeamCandidate, 'status'>[] = [];
    let floor = -Infinity; // the smallest value in `best` once full
    this.beams.forEach(({ logprob }, parent) => {
      const row = scores[parent];
      for (let tokenId = 0; tokenId < row.length; tokenId++) {
        const total = logprob + row[tokenId];
        if (best.length === count && !(total > floor)) continue;
        let at = best.length;
        while (at > 0 && best[at - 1].logprob < total) at--;
        best.splice(at, 0, { parent, tokenId, logprob: total });
        if (best.length > count) best.pop();
        if (best.length === count) floor = best[count - 1].logprob;
      }
    });
    return best;
  }

  /**
   * Beam sampling: `count` draws without replacement from the softmax of beam logprob + token
   * score over every beam and token (HF's torch.multinomial), in drawing order.
   */
  private drawCandidates(scores: readonly Float64Array[], count: number): Omit<BeamCandidate, 'status'>[] {
    const weights = this.beams.map(({ logprob }, parent) => Float64Array.from(scores[parent], (s) => logprob + s));
    let max = -Infinity;
    for (const row of weights) for (const w of row) if (w > max) max = w;
    let total = 0;
    for (const row of weights) {
      for (let i = 0; i < row.length; i++) {
        row[i] = Math.exp(row[i] - max); // the logprob is kept in `scores`; the row now holds weights
        total += row[i];
      }
    }
    const drawn: Omit<BeamCandidate, 'status'>[] = [];
    while (drawn.length < count && total > 0) {
      let remaining = this.settings.random!.nextFloat() * total;
      let pick: { parent: number; tokenId: number } | null = null;
      walk: for (let parent = 0; parent < weights.length; parent++) {
        const row = weights[parent];
        for (let tokenId = 0; tokenId < row.length; tokenId++) {
          if (row[tokenId] === 0) continue;
          pick = { parent, tokenId }; // rounding past the end leaves the last positive weight picked
          remaining -= row[tokenId];
          if (remaining < 0) break walk;
        }
      }
      if (!pick) break;
      total -= weights[pick.parent][pick.tokenId];
      weights[pick.parent][pick.tokenId] = 0;
      drawn.push({ ...pick, logprob: this.beams[pick.parent].logprob + scores[pick.parent][pick.tokenId] });
    }
    return drawn;
  }
}
