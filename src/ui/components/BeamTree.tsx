import { useId, useRef, useState, type KeyboardEvent } from 'react';
import type { BeamNode, BeamTree as Tree } from '../beamTree';
import { pathTo } from '../beamTree';
import type { TokenTexts } from '../tokenText';
import { visibleText } from '../tokenText';

interface BeamTreeProps {
  tree: Tree;
  numBeams: number;
  lengthPenalty: number;
  /** id → the token's text; null while the vocabulary loads (ids are shown meanwhile). */
  textOf: TokenTexts | null;
  /** Opens returned sequence `rank` (0-based: its pane) in the token inspector. */
  onInspect: (rank: number) => void;
}

const STATUS_WORDS: Record<BeamNode['status'], string> = {
  kept: 'kept',
  pruned: 'pruned',
  finished: 'finished',
};

/** −4.213 (a log-probability, with a true minus sign). */
function logprobText(value: number): string {
  return value.toFixed(3).replace('-', '−');
}

/** What a node says on hover and focus: its step, token, status and cumulative log-probability (and score when finished). */
function describeNode(node: BeamNode, token: string): string {
  const parts = [`Step ${node.step + 1}: ${token}`, STATUS_WORDS[node.status]];
  if (node.beam !== null) parts.push(`runs on as beam ${node.beam + 1}`);
  parts.push(`cumulative log-probability ${logprobText(node.logprob)}`);
  if (node.score !== null) parts.push(`normalised score ${logprobText(node.score)}`);
  return parts.join(', ');
}

/**
 * Beam search as it runs: one column per step with that step's 2 × num_beams candidates, best
 * first: the kept ones (which run on), the pruned ones greyed, the finished ones with their
 * normalised scores. Each node's token and cumulative log-probability show on hover and focus;
 * the nodes are one tab stop, moved through with the arrow keys (↑↓ within a step, ←→ between
 * steps). When the search ends, its final ranking is listed, each sequence openable in the inspector.
 */
export function BeamTree({ tree, numBeams, lengthPenalty, textOf, onInspect }: BeamTreeProps) {
  const id = useId();
  const [focus, setFocus] = useState<{ step: number; index: number }>({ step: 0, index: 0 });
  const [shown, setShown] = useState<{ step: number; index: number } | null>(null);
  const nodes = useRef(new Map<string, HTMLButtonElement>());
  const token = (tokenId: number) => (textOf ? `"${visibleText(textOf(tokenId))}"` : `token ${tokenId}`);
  const textOfIds = (ids: readonly number[]) => (textOf ? ids.map((t) => textOf(t)).join('') : ids.join(' '));

  const steps = tree.steps;
  const at = steps.length === 0 ? null : { step: Math.min(focus.step, steps.length - 1), index: 0 };
  if (at) at.index = Math.min(focus.index, steps[at.step].length - 1);

  /** The node an arrow (or Home / End) key moves to from node `index` of `step`; null for other keys. */
  const target = (key: string, step: number, index: number): { step: number; index: number } | null => {
    const column = steps[step];
    if (key === 'ArrowDown') return { step, index: Math.min(index + 1, column.length - 1) };
    if (key === 'ArrowUp') return { step, index: Math.max(index - 1, 0) };
    if (key === 'Home') return { step, index: 0 };
    if (key === 'End') return { step, index: column.length - 1 };
    if (key === 'ArrowRight' && step + 1 < steps.length)
      return {
        step: step + 1,
        index: Math.max(
          0,
          steps[step + 1].findIndex((n) => n.parent === index),
        ),
      };
    if (key === 'ArrowLeft' && step > 0) return { step: step - 1, index: column[index].parent ?? 0 };
    return null;
  };
  const move = (event: KeyboardEvent, step: number, index: number) => {
    const next = target(event.key, step, index);
    if (!next) return;
    event.preventDefault();
    setFocus(next);
    nodes.current.get(`${next.step}:${next.index}`)?.focus();
  };

  const detail = shown && steps[shown.step]?.[shown.index];
  const path = shown && detail ? pathTo(tree, shown.step, shown.index) : [];
  const state = tree.reason
    ? tree.reason === 'abort'
      ? 'stopped'
      : `ended after ${steps.length} ${steps.length === 1 ? 'step' : 'steps'} (${tree.reason === 'early_stopping' ? 'early stopping' : 'every beam had to stop'})`
    : `searching: step ${steps.length}`;

  return (
    <section className="beam-tree panel" role="region" aria-label={`Beam search: ${numBeams} beams, ${state}`}>
      <h2 id={`${id}-title`}>Beam search</h2>
      <p className="field-hint">
        {numBeams} beams, {state}. Each step extends every beam by one token and keeps the {numBeams} best of {2 * numBeams} candidates
        (cumulative log-probability); a finished sequence scores log-probability ÷ length<sup>{lengthPenalty}</sup>. Arrow keys move through
        the nodes.
      </p>
      <div className="beam-steps" role="group" aria-label="Steps">
        {steps.map((column, s) => (
          <ol className="beam-step" key={s} aria-label={`Step ${s + 1}`} data-step={s}>
            {column.map((node, i) => {
              const words = describeNode(node, token(node.tokenId));
              const active = at !== null && at.step === s && at.index === i;
              return (
                <li key={i}>
                  <button
                    type="button"
                    ref={(el) => {
                      if (el) nodes.current.set(`${s}:${i}`, el);
                      else nodes.current.delete(`${s}:${i}`);
                    }}
                    className={`beam-node ${node.status}`}
                    data-beam-step={s}
                    data-beam-status={node.status}
                    tabIndex={active ? 0 : -1}
                    title={words}
                    onFocus={() => {
                      setFocus({ step: s, index: i });
                      setShown({ step: s, index: i });
                    }}
                    onMouseEnter={() => setShown({ step: s, index: i })}
                    onKeyDown={(event) => move(event, s, i)}
                  >
                    <span className="beam-token">{textOf ? visibleText(textOf(node.tokenId)) : node.tokenId}</span>
                    <span className="beam-logprob">{node.score !== null ? logprobText(node.score) : logprobText(node.logprob)}</span>
                    {/* The name starts with what is shown (token, number), then says the rest. */}
                    <span className="sr-only">, {words}</span>
                  </button>
                </li>
              );
            })}
          </ol>
        ))}
      </div>
      <p className="beam-detail" data-testid="beam-detail">
        {detail
          ? `${describeNode(detail, token(detail.tokenId))}. Its sequence: ${textOfIds(path.map((index, step) => steps[step][index].tokenId))}`
          : 'Hover or focus a node to see its token, its sequence and its cumulative log-probability.'}
      </p>
      {tree.finished.length > 0 && !tree.ranking && (
        <p className="field-hint" data-testid="beam-finished">
          Finished so far: {tree.finished.map((h) => `${textOfIds(h.ids)} (${logprobText(h.score)})`).join('; ')}
        </p>
      )}
      {tree.ranking && tree.ranking.length > 0 && (
        <>
          <h3>Final ranking</h3>
          <ol className="beam-ranking" aria-label="Final ranking">
            {tree.ranking.map((h, rank) => (
              <li key={rank}>
                <span className="beam-ranked-text">{textOfIds(h.ids)}</span>{' '}
                <span className="field-hint">
                  score {logprobText(h.score)} (log-probability {logprobText(h.logprob)} over {h.ids.length} tokens)
                </span>{' '}
                <button type="button" className="ghost small" onClick={() => onInspect(rank)}>
                  Inspect Output {rank + 1}
                </button>
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
