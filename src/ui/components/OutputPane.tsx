import { memo, useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import type { FinishReason } from '../../worker/protocol';
import type { RunToken } from '../appState';
import { paneScore, surpriseBand } from '../inspection';
import { cumulativeLogprob } from '../panes';
import { droppedPrompt, useTokenBytes, visibleText, type TokenTexts } from '../tokenText';

interface OutputPaneProps {
  /** Its heading ("Output 1", or where a branch came from) and its region's accessible name. */
  name: string;
  label: string;
  prompt: string;
  /** The prompt as the model read it; null until the worker has tokenized it. */
  promptIds: number[] | null;
  tokens: readonly RunToken[];
  streaming: boolean;
  finishReason?: FinishReason;
  /** The token the inspector shows, when it is in this pane. */
  selectedIndex: number | null;
  onSelect: (index: number) => void;
  /** Token view: every token as a chip with its id. */
  showTokens: boolean;
  /** Colour generated tokens by their model probability. */
  surprise: boolean;
  /** This run repeats the last one's prompt and seed: the first token that differs (null: none does); undefined: not a repeat. */
  departure?: number | null;
  textOf: TokenTexts | null;
  /** A branch: its first token was forced (shown marked), and the pane can be closed. */
  forcedFirst?: boolean;
  onClose?: () => void;
  /** A finished branch: prefix positions reused from the parent's KV cache (0: it ran a prefill). */
  reusedPositions?: number | null;
}

/** What an empty prompt starts from (as Hugging Face does): GPT-2's one special token. */
const START_TOKEN = '<|endoftext|>';

const FINISH_LABELS: Record<FinishReason, string> = {
  length: 'max tokens',
  eos: 'end of text',
  stop: 'stop string',
  abort: 'stopped',
};

/**
 * One generated sequence: the prompt, then its tokens as they stream in. Always text, never HTML.
 * The generated tokens are a listbox: Tab reaches it, the arrow keys (and Home / End) move between
 * tokens, Enter or Space (or a click) selects one for the token inspector.
 */
export function OutputPane(props: OutputPaneProps) {
  const {
    name,
    label,
    prompt,
    promptIds,
    tokens,
    streaming,
    finishReason,
    selectedIndex,
    onSelect,
    showTokens,
    surprise,
    departure,
    textOf,
    forcedFirst,
    onClose,
    reusedPositions,
  } = props;
  const id = useId();
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle');
  const [active, setActive] = useState<number | null>(null);
  const body = useRef<HTMLDivElement>(null);
  const text = tokens.map((t) => t.text).join('');
  const score = surprise ? paneScore(tokens) : null;
  /** "output 1", "branch: Output 1 › …": the label inside a button's name ("Copy output 1"). */
  const spoken = label.charAt(0).toLowerCase() + label.slice(1);
  const logprob = cumulativeLogprob(tokens);
  const bytesOf = useTokenBytes();
  /** The start of the prompt the model did not read (it did not fit in the context with the new tokens). */
  const split = promptIds && bytesOf ? droppedPrompt(prompt, promptIds, bytesOf) : null;

  // Follow the text as it grows, like a terminal, unless the reader has scrolled up; once per
  // frame at most (reading scrollHeight makes the browser lay the page out).
  const pinned = useRef(true);
  useEffect(() => {
    const frame = requestAnimationFrame(() => {
      const element = body.current;
      if (element && pinned.current) element.scrollTop = element.scrollHeight;
    });
    return () => cancelAnimationFrame(frame);
  }, [tokens.length, showTokens]);

  const tokenId = (i: number) => `${id}-token-${i}`;
  const focusToken = (i: number) => {
    const clamped = Math.max(0, Math.min(tokens.length - 1, i));
    setActive(clamped);
    document.getElementById(tokenId(clamped))?.scrollIntoView({ block: 'nearest' });
  };

  const onKeyDown = (event: KeyboardEvent<HTMLSpanElement>) => {
    if (tokens.length === 0) return;
    const current = active ?? selectedIndex ?? tokens.length - 1;
    const moves: Record<string, number> = {
      ArrowRight: current + 1,
      ArrowDown: current + 1,
      ArrowLeft: current - 1,
      ArrowUp: current - 1,
      Home: 0,
      End: tokens.length - 1,
    };
    if (event.key in moves) {
      event.preventDefault();
      focusToken(moves[event.key]);
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      onSelect(Math.min(current, tokens.length - 1));
    }
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(prompt + text);
      setCopied('copied');
    } catch {
      setCopied('failed');
    }
    setTimeout(() => setCopied('idle'), 1500);
  };

  const state = streaming ? 'writing…' : finishReason ? FINISH_LABELS[finishReason] : '';
  const activeIndex = active ?? selectedIndex;
  return (
    <section
      className={`output-pane${forcedFirst ? ' branch-pane' : ''}`}
      role="region"
      aria-label={label}
      aria-busy={streaming}
      data-departs-at={departure ?? undefined}
      data-reused-positions={reusedPositions ?? undefined}
    >
      <header className="output-head">
        <h3>
          {forcedFirst && (
            <span className="branch-mark" aria-hidden="true">
              ↳{' '}
            </span>
          )}
          {name}
        </h3>
        <span className="output-state">
          {state}
          {departure !== undefined && (
            <span className="departure-note">
              {departure === null ? ' · same tokens as the last run' : ` · departs from the last run at token ${departure + 1}`}
            </span>
          )}
        </span>
        <button type="button" className="ghost small" onClick={copy} aria-label={`Copy ${spoken}`} disabled={text === ''}>
          {copied === 'copied' ? 'Copied' : copied === 'failed' ? 'Copy failed' : 'Copy'}
        </button>
        {onClose && (
          <button type="button" className="ghost small" onClick={onClose} aria-label={`Close ${spoken}`}>
            Close
          </button>
        )}
      </header>
      <div
        className={`output-text${showTokens ? ' token-view' : ''}${surprise ? ' surprise' : ''}`}
        ref={body}
        onScroll={(event) => {
          const el = event.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        <span className="output-prompt" data-part="prompt">
          {split && (
            <del className="dropped-prompt" data-part="dropped" title="Not read by the model: it did not fit in the context">
              {split.dropped}
            </del>
          )}
          {showTokens && promptIds && textOf ? (
            promptIds.map((tid, i) => <TokenChip key={i} id={tid} text={textOf(tid)} />)
          ) : prompt === '' ? (
            <span className="start-token" data-part="start-token">
              {START_TOKEN}
            </span>
          ) : (
            (split?.read ?? prompt)
          )}
        </span>
        <span
          className="output-generated"
          data-part="generated"
          role="listbox"
          aria-label={`${name} tokens`}
          aria-orientation="horizontal"
          tabIndex={tokens.length > 0 ? 0 : -1}
          aria-activedescendant={activeIndex !== null && activeIndex < tokens.length ? tokenId(activeIndex) : undefined}
          onKeyDown={onKeyDown}
          onBlur={() => setActive(null)}
        >
          {tokens.map((token, i) => (
            <Token
              key={i}
              elementId={tokenId(i)}
              index={i}
              token={token}
              selected={selectedIndex === i}
              active={active === i}
              departs={departure === i}
              forced={forcedFirst === true && i === 0}
              band={surprise && token.inspection ? surpriseBand(token.inspection.logprob) : null}
              chip={showTokens && textOf ? textOf(token.id) : null}
              onSelect={onSelect}
            />
          ))}
        </span>
        {streaming && <span className="caret" aria-hidden="true" />}
      </div>
      {split && (
        <p className="pane-note" data-testid="dropped-note">
          Struck out: the start of the prompt, which the model did not read (it did not fit in the model&apos;s context with the new
          tokens).
        </p>
      )}
      {prompt === '' && (
        <p className="pane-note" data-testid="start-note">
          The prompt was empty: the model started from {START_TOKEN}, the token that separates documents in its training text.
        </p>
      )}
      {(showTokens || score || logprob !== null) && (
        <footer className="output-foot">
          {reusedPositions != null && (
            <span title="Where the branch's prefix came from">
              {reusedPositions > 0 ? `prefix: ${reusedPositions} positions from the cache` : 'prefix: computed afresh'}
            </span>
          )}
          {logprob !== null && (
            <span data-testid="pane-logprob" title="Sum of the raw model's log-probabilities of this pane's tokens">
              log-prob {logprob.toFixed(2)} over {tokens.length} {tokens.length === 1 ? 'token' : 'tokens'}
            </span>
          )}
          {showTokens && (
            <span data-testid="token-count">
              {promptIds ? `${promptIds.length} prompt tokens · ` : ''}
              {tokens.length} generated tokens
            </span>
          )}
          {score && (
            <span className="pane-score" data-testid="pane-score">
              mean log-prob {score.meanLogprob.toFixed(2)} · perplexity {score.perplexity.toFixed(1)} · top choice{' '}
              {(score.topChoiceShare * 100).toFixed(0)} %
            </span>
          )}
        </footer>
      )}
    </section>
  );
}

interface TokenProps {
  elementId: string;
  index: number;
  token: RunToken;
  selected: boolean;
  active: boolean;
  departs: boolean;
  /** A branch's forced first token. */
  forced: boolean;
  /** Surprise band (0 = likeliest), or null when not colouring. */
  band: number | null;
  /** Token view: the token's own text, shown with its id. */
  chip: string | null;
  onSelect: (index: number) => void;
}

/** One generated token; memoised so a new token re-renders only itself. */
const Token = memo(function Token({ elementId, index, token, selected, active, departs, forced, band, chip, onSelect }: TokenProps) {
  const classes = ['token'];
  if (forced) classes.push('forced');
  if (selected) classes.push('selected');
  if (active) classes.push('active');
  if (band !== null) classes.push(`band-${band}`);
  if (token.text === '' && chip === null) classes.push('empty');
  if (chip === null && token.text.includes('\n')) classes.push('newline'); // a visible ↵ to click (not part of the text)
  const probability = token.inspection ? ` · model probability ${(Math.exp(token.inspection.logprob) * 100).toFixed(2)} %` : '';
  return (
    <>
      {departs && <span className="departure" title="Departs from the last run here" aria-hidden="true" />}
      <span
        id={elementId}
        role="option"
        aria-selected={selected}
        className={classes.join(' ')}
        data-token-index={index}
        data-token-id={token.id}
        title={`${forced ? 'forced token' : `token ${index + 1}`} · id ${token.id}${probability}`}
        onClick={() => onSelect(index)}
      >
        {chip === null ? token.text : <ChipContent id={token.id} text={chip} />}
      </span>
    </>
  );
});

function TokenChip({ id, text }: { id: number; text: string }) {
  return (
    <span className="token prompt-token" data-token-id={id}>
      <ChipContent id={id} text={text} />
    </span>
  );
}

function ChipContent({ id, text }: { id: number; text: string }) {
  return (
    <>
      <span className="chip-text">{visibleText(text)}</span>
      <span className="chip-id">{id}</span>
    </>
  );
}
