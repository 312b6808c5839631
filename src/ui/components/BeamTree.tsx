import { useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { BeamEdge, BeamNode, BeamTree as Tree } from '../beamTree';
import { beamEdges, pathTo } from '../beamTree';
import type { TokenTexts } from '../tokenText';
import { visibleText } from '../tokenText';

interface BeamTreeProps {
  tree: Tree;
  numBeams: number;
  lengthPenalty: number;
  /** id → the token's text; null while the vocabulary loads (ids are shown meanwhile). */
  textOf: TokenTexts | null;
  /** The panes of the returned sequences, best first ("Output 1", or a branch's label): what Inspect opens. */
  paneLabels: readonly string[];
  /** Opens returned sequence `rank` (0-based: its pane) in the token inspector. */
  onInspect: (rank: number) => void;
  /** The branch this search continues (its pane's label); absent for the run's own search. */
  branch?: string;
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

/** An edge as drawn: where it starts (the parent's right side) and ends (the candidate's left side), in the steps' own pixels. */
interface DrawnEdge extends BeamEdge {
  key: string;
  d: string;
}

/**
 * The edges' curves from the nodes' boxes as laid out (offsets within the positioned steps
 * element, so they scroll with it), and the size of the drawing: measured after each layout.
 */
function drawEdges(edges: BeamEdge[], node: (step: number, index: number) => HTMLElement | undefined): DrawnEdge[] {
  return edges.flatMap((edge) => {
    const a = node(edge.from.step, edge.from.index);
    const b = node(edge.to.step, edge.to.index);
    if (!a || !b) return [];
    const x1 = a.offsetLeft + a.offsetWidth;
    const y1 = a.offsetTop + a.offsetHeight / 2;
    const x2 = b.offsetLeft;
    const y2 = b.offsetTop + b.offsetHeight / 2;
    const mid = (x1 + x2) / 2;
    const key = `${edge.from.step}:${edge.from.index}>${edge.to.step}:${edge.to.index}`;
    return [{ ...edge, key, d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}` }];
  });
}

/**
 * Beam search as it runs: one column per step with that step's 2 × num_beams candidates, best
 * first: the kept ones (which run on), the pruned ones greyed, the finished ones with their
 * normalised scores, each joined by a line to the node it extends (the path of the node under
 * the pointer or focus drawn bold). Each node's token and cumulative log-probability show on hover and focus;
 * the nodes are one tab stop, moved through with the arrow keys (↑↓ within a step, ←→ between
 * steps). When the search ends, its final ranking is listed, each sequence openable in the inspector.
 */
export function BeamTree({ tree, numBeams, lengthPenalty, textOf, paneLabels, onInspect, branch }: BeamTreeProps) {
  const id = useId();
  const [focus, setFocus] = useState<{ step: number; index: number }>({ step: 0, index: 0 });
  const [shown, setShown] = useState<{ step: number; index: number } | null>(null);
  const nodes = useRef(new Map<string, HTMLButtonElement>());
  const token = (tokenId: number) => (textOf ? `"${visibleText(textOf(tokenId))}"` : `token ${tokenId}`);
  const textOfIds = (ids: readonly number[]) => (textOf ? ids.map((t) => textOf(t)).join('') : ids.join(' '));

  const steps = tree.steps;
  const edges = useMemo(() => beamEdges(tree), [tree]);
  const stepsBox = useRef<HTMLDivElement>(null);
  const [drawing, setDrawing] = useState<{ width: number; height: number; edges: DrawnEdge[] }>({ width: 0, height: 0, edges: [] });
  // The lines follow the nodes' layout: after every step, and when the page's width or fonts move them.
  useLayoutEffect(() => {
    const box = stepsBox.current;
    if (!box) return;
    const measure = () =>
      setDrawing({
        width: box.scrollWidth,
        height: box.scrollHeight,
        edges: drawEdges(edges, (step, index) => nodes.current.get(`${step}:${index}`)),
      });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(box);
    return () => observer.disconnect();
  }, [edges, textOf]);
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
  const onPath = (edge: BeamEdge) => path[edge.to.step] === edge.to.index && path[edge.from.step] === edge.from.index;
  const state = tree.reason
    ? tree.reason === 'abort'
      ? 'stopped'
      : `ended after ${steps.length} ${steps.length === 1 ? 'step' : 'steps'} (${tree.reason === 'early_stopping' ? 'early stopping' : 'every beam had to stop'})`
    : `searching: step ${steps.length}`;

  return (
    <section
      className="beam-tree panel"
      role="region"
      aria-label={`Beam search${branch ? ` of ${branch}` : ''}: ${numBeams} beams, ${state}`}
    >
      <h2 id={`${id}-title`}>{branch ? `Beam search of ${branch}` : 'Beam search'}</h2>
      <p className="field-hint">
        {numBeams} beams, {state}. Each step extends every beam by one token and keeps the {numBeams} best of {2 * numBeams} candidates
        (cumulative log-probability); a finished sequence scores log-probability ÷ length<sup>{lengthPenalty}</sup>. Arrow keys move through
        the nodes.
      </p>
      <div className="beam-steps" role="group" aria-label="Steps" ref={stepsBox}>
        <svg className="beam-edges" aria-hidden="true" width={drawing.width} height={drawing.height} data-testid="beam-edges">
          {drawing.edges.map((edge) => (
            <path
              key={edge.key}
              d={edge.d}
              className={`beam-edge ${edge.status}${onPath(edge) ? ' on-path' : ''}`}
              data-from={`${edge.from.step}:${edge.from.index}`}
              data-to={`${edge.to.step}:${edge.to.index}`}
            />
          ))}
        </svg>
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
                {paneLabels[rank] !== undefined && (
                  <button type="button" className="ghost small" onClick={() => onInspect(rank)}>
                    Inspect {paneLabels[rank]}
                  </button>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
