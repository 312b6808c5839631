import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { AnalysisState } from '../appState';
import type { PaneView } from '../panes';
import { visibleText, type TokenTexts } from '../tokenText';

interface AttentionPanelProps {
  /** The pane whose text (prompt and output) is analysed. */
  pane: PaneView | undefined;
  nLayer: number;
  nHead: number;
  /** The latest attention request's state. */
  attention: AnalysisState;
  /** Asks the worker for one layer's attention over `ids`; returns the request id. */
  onAnalyze: (ids: number[], layer: number) => number;
  textOf: TokenTexts | null;
  /** The pane is still being written: its text may grow after the analysis. */
  busy: boolean;
}

const MEAN = 'mean';

/**
 * Attention, on demand: one layer's softmaxed attention over a pane's whole text, computed by an
 * analysis pass in the worker (one layer at a time, so every model fits). A heatmap of queries ×
 * keys for a head (or the mean of the heads), and the text itself: hovering, focusing or moving to
 * a token (arrow keys) shades the tokens it attends to.
 */
export function AttentionPanel({ pane, nLayer, nHead, attention, onAnalyze, textOf, busy }: AttentionPanelProps) {
  const id = useId();
  const [layer, setLayer] = useState(0);
  const [head, setHead] = useState<string>('0');
  const [query, setQuery] = useState<number | null>(null);
  const asked = useRef<{ request: number; key: string; ids: number[] } | null>(null);
  const ids = useMemo(() => (pane?.promptIds ? [...pane.promptIds, ...pane.tokens.map((t) => t.id)] : []), [pane]);
  const key = `${pane?.key}:${ids.join(',')}:${layer}`;
  const answered =
    asked.current && attention.requestId === asked.current.request && attention.status === 'done' ? attention.attention : null;
  const shown = answered && asked.current?.key === key ? answered : null;
  const stale = answered !== null && shown === null;

  const show = (atLayer = layer) => {
    if (ids.length === 0) return;
    asked.current = { request: onAnalyze(ids, atLayer), key: `${pane?.key}:${ids.join(',')}:${atLayer}`, ids };
  };

  // Once shown, a new layer is fetched at once; heads come from the same answer.
  const onLayer = (next: number) => {
    setLayer(next);
    if (asked.current) show(next);
  };

  const matrix = useMemo(() => (shown ? headMatrix(shown, head) : null), [shown, head]);
  const T = shown?.length ?? 0;
  const tokens = asked.current?.ids ?? [];

  return (
    <section className="attention panel" role="region" aria-label="Attention">
      <h2>Attention</h2>
      <p className="muted-text">
        {pane
          ? `${pane.name}: what each token looks at, per layer and head.`
          : 'Generate first: the attention of a pane\u2019s text shows here.'}
      </p>
      <div className="attention-controls">
        <label htmlFor={`${id}-layer`}>Layer</label>
        <select id={`${id}-layer`} value={layer} onChange={(e) => onLayer(Number(e.target.value))}>
          {Array.from({ length: nLayer }, (_, l) => (
            <option key={l} value={l}>
              {l + 1}
            </option>
          ))}
        </select>
        <label htmlFor={`${id}-head`}>Head</label>
        <select id={`${id}-head`} value={head} onChange={(e) => setHead(e.target.value)}>
          {Array.from({ length: nHead }, (_, h) => (
            <option key={h} value={String(h)}>
              {h + 1}
            </option>
          ))}
          <option value={MEAN}>Mean of heads</option>
        </select>
        <button
          type="button"
          className="secondary small"
          onClick={() => show()}
          disabled={!pane || ids.length === 0 || attention.status === 'running'}
        >
          {shown ? 'Refresh' : stale ? 'Show for this text' : 'Show attention'}
        </button>
      </div>
      {attention.status === 'running' && (
        <p className="muted-text" role="status">
          Computing layer {layer + 1}…
        </p>
      )}
      {attention.status === 'error' && asked.current?.request === attention.requestId && (
        <p className="notice error" role="alert">
          {attention.error}
        </p>
      )}
      {stale && !busy && <p className="muted-text">The text or layer changed: press the button to show it.</p>}
      {shown && matrix && (
        <>
          <Heatmap
            matrix={matrix}
            length={T}
            label={`Layer ${shown.layer + 1}, ${head === MEAN ? 'mean of heads' : `head ${Number(head) + 1}`}`}
            tokens={tokens}
            textOf={textOf}
          />
          <p className="muted-text small-notice">
            Rows: each token as a query (top to bottom); columns: the tokens it can see. Darker = more attention (the scale above). Move
            through the text below (hover, or Tab then the arrow keys) to see one token&apos;s row.
          </p>
          <AttentionText tokens={tokens} matrix={matrix} length={T} query={query} onQuery={setQuery} textOf={textOf} />
        </>
      )}
    </section>
  );
}

/** [T, T] of the chosen head, or the mean over heads. */
function headMatrix(attention: NonNullable<AnalysisState['attention']>, head: string): Float32Array {
  const { heads, length: T, probabilities } = attention;
  const size = T * T;
  if (head !== MEAN) {
    const h = Math.min(heads - 1, Number(head));
    return probabilities.subarray(h * size, (h + 1) * size);
  }
  const mean = new Float32Array(size);
  for (let h = 0; h < heads; h++) for (let i = 0; i < size; i++) mean[i] += probabilities[h * size + i] / heads;
  return mean;
}

/** The heatmap's colour of an attention weight p: white to the accent blue, by √p (so small weights show beside large ones). */
export function heatColour(p: number): [number, number, number] {
  const v = Math.sqrt(Math.min(1, Math.max(0, p)));
  return [Math.round(250 - v * (250 - 47)), Math.round(250 - v * (250 - 93)), Math.round(250 - v * (250 - 138))];
}

/** A later token, which a query cannot see (causal attention). */
const FUTURE: [number, number, number] = [245, 243, 239];

/** The weights the colour scale marks, at their place on it (√p). */
const SCALE_TICKS = [0, 0.05, 0.25, 0.5, 1];

/** The query × key cell under the pointer or the keyboard's cursor. */
interface Cell {
  query: number;
  key: number;
}

function Heatmap({
  matrix,
  length: T,
  label,
  tokens,
  textOf,
}: {
  matrix: Float32Array;
  length: number;
  label: string;
  tokens: number[];
  textOf: TokenTexts | null;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const id = useId();
  const [cell, setCell] = useState<Cell | null>(null);
  useEffect(() => {
    const element = canvas.current;
    const context = element?.getContext('2d');
    if (!element || !context) return;
    element.width = T;
    element.height = T;
    const image = context.createImageData(T, T);
    for (let q = 0; q < T; q++) {
      for (let k = 0; k < T; k++) {
        const [r, g, b] = k > q ? FUTURE : heatColour(matrix[q * T + k]);
        const at = 4 * (q * T + k);
        image.data[at] = r;
        image.data[at + 1] = g;
        image.data[at + 2] = b;
        image.data[at + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
  }, [matrix, T]);

  const shown = cell && cell.query < T && cell.key < T ? cell : null;
  const name = (k: number) => `${k + 1} "${textOf ? visibleText(textOf(tokens[k])) : `#${tokens[k]}`}"`;
  const readout = shown
    ? shown.key > shown.query
      ? `Query ${name(shown.query)} cannot see key ${name(shown.key)}: it comes later.`
      : `Query ${name(shown.query)} → key ${name(shown.key)}: ${(matrix[shown.query * T + shown.key] * 100).toFixed(2)} % of its attention.`
    : 'Point at the map, or focus it and use the arrow keys, to name a cell\u2019s query and key tokens.';

  const onPointer = (event: React.PointerEvent<HTMLCanvasElement>) => {
    const box = event.currentTarget.getBoundingClientRect();
    const at = (offset: number, size: number) => Math.max(0, Math.min(T - 1, Math.floor((offset / size) * T)));
    setCell({ query: at(event.clientY - box.top, box.height), key: at(event.clientX - box.left, box.width) });
  };
  const onKeyDown = (event: KeyboardEvent<HTMLCanvasElement>) => {
    const current = shown ?? { query: T - 1, key: 0 };
    const moves: Record<string, Cell> = {
      ArrowUp: { ...current, query: current.query - 1 },
      ArrowDown: { ...current, query: current.query + 1 },
      ArrowLeft: { ...current, key: current.key - 1 },
      ArrowRight: { ...current, key: current.key + 1 },
      Home: { ...current, key: 0 },
      End: { ...current, key: current.query },
    };
    const next = moves[event.key];
    if (!next) return;
    event.preventDefault();
    const clamp = (n: number) => Math.max(0, Math.min(T - 1, n));
    setCell({ query: clamp(next.query), key: clamp(next.key) });
  };

  return (
    <figure className="heatmap">
      <div className="heatmap-frame">
        <span className="heatmap-axis keys" aria-hidden="true">
          keys (the tokens looked at) →
        </span>
        <span className="heatmap-axis queries" aria-hidden="true">
          queries (each token) ↓
        </span>
        <div className="heatmap-plot">
          <canvas
            ref={canvas}
            role="img"
            tabIndex={0}
            aria-label={`${label}: attention of ${T} tokens (queries × keys)`}
            aria-describedby={`${id}-readout`}
            data-testid="attention-heatmap"
            data-length={T}
            onPointerMove={onPointer}
            onPointerDown={onPointer}
            onPointerLeave={() => setCell(null)}
            onFocus={() => setCell((c) => c ?? { query: T - 1, key: T - 1 })}
            onKeyDown={onKeyDown}
          />
          {shown && (
            <span
              className="heatmap-cursor"
              aria-hidden="true"
              style={{
                left: `${(shown.key / T) * 100}%`,
                top: `${(shown.query / T) * 100}%`,
                width: `${100 / T}%`,
                height: `${100 / T}%`,
              }}
            />
          )}
        </div>
      </div>
      <p className="heatmap-readout" id={`${id}-readout`} aria-live="polite" data-testid="heatmap-readout">
        {readout}
      </p>
      <HeatScale />
      <figcaption className="muted-text">
        {label} · {T} tokens · queries ↓, keys →
      </figcaption>
    </figure>
  );
}

/** The heatmap's colour scale: weight 0 to 1 (placed by √p, as the map colours it), and the colour of cells a query cannot see. */
function HeatScale() {
  const [r0, g0, b0] = heatColour(0);
  const [r1, g1, b1] = heatColour(1);
  return (
    <div className="heat-scale" data-testid="heat-scale">
      <span className="heat-scale-title">Attention weight</span>
      <div
        className="heat-scale-bar"
        role="img"
        aria-label="Colour scale: white for 0 % to dark blue for 100 % of a query's attention, spaced by the square root"
        style={{ background: `linear-gradient(to right, rgb(${r0}, ${g0}, ${b0}), rgb(${r1}, ${g1}, ${b1}))` }}
      >
        {SCALE_TICKS.map((p) => (
          <span key={p} className="heat-scale-tick" style={{ left: `${Math.sqrt(p) * 100}%` }} aria-hidden="true">
            {p * 100} %
          </span>
        ))}
      </div>
      <span className="heat-scale-future">
        <span className="heat-swatch" aria-hidden="true" style={{ background: `rgb(${FUTURE.join(', ')})` }} /> a later token (not visible)
      </span>
    </div>
  );
}

function AttentionText({
  tokens,
  matrix,
  length: T,
  query,
  onQuery,
  textOf,
}: {
  tokens: number[];
  matrix: Float32Array;
  length: number;
  query: number | null;
  onQuery: (q: number | null) => void;
  textOf: TokenTexts | null;
}) {
  const row = query === null ? null : matrix.subarray(query * T, (query + 1) * T);
  let top = 0;
  if (row) for (let k = 0; k <= (query ?? 0); k++) top = Math.max(top, row[k]);
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const current = query ?? T - 1;
    const moves: Record<string, number> = {
      ArrowRight: current + 1,
      ArrowDown: current + 1,
      ArrowLeft: current - 1,
      ArrowUp: current - 1,
      Home: 0,
      End: T - 1,
    };
    if (event.key in moves) {
      event.preventDefault();
      onQuery(Math.max(0, Math.min(T - 1, moves[event.key])));
    }
  };
  return (
    <div
      className="attention-text"
      role="listbox"
      aria-label="Attention text: choose a token to see what it attends to"
      tabIndex={0}
      aria-activedescendant={query === null ? undefined : `attention-token-${query}`}
      onKeyDown={onKeyDown}
      onFocus={() => query === null && onQuery(T - 1)}
    >
      {tokens.slice(0, T).map((id, k) => {
        const weight = row && k <= (query ?? 0) && top > 0 ? row[k] / top : 0;
        return (
          <span
            key={k}
            id={`attention-token-${k}`}
            role="option"
            aria-selected={k === query}
            className={`attention-token${k === query ? ' query' : ''}`}
            style={
              weight > 0
                ? { backgroundColor: `rgba(47, 93, 138, ${(0.08 + 0.8 * weight).toFixed(3)})`, color: weight > 0.55 ? 'white' : undefined }
                : undefined
            }
            title={row && k <= (query ?? 0) ? `${(row[k] * 100).toFixed(2)} %` : undefined}
            data-weight={row ? row[k].toFixed(6) : undefined}
            onMouseEnter={() => onQuery(k)}
          >
            {textOf ? textOf(id) : `#${id}`}
          </span>
        );
      })}
    </div>
  );
}
