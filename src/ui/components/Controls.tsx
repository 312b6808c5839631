import { useId, useLayoutEffect, useRef, useState } from 'react';
import {
  contextFit,
  contextWarning,
  isGreedy,
  LABELS,
  linkPromptNote,
  MORE_SAMPLERS,
  onlyLikeliest,
  readEarlyStopping,
  randomSeed,
  temperatureHint,
  type Drafts,
  type NumberSetting,
  type Settings,
} from '../settings';
import { optionSpec } from '../../generation/optionSpecs';
import { promptTokensAtMost, usePromptTokenCount } from '../tokenText';
import { NumberField } from './NumberField';
import { Switch } from './Switch';

/** Warpers that only act when sampling, and settings that only act in beam search. */
const SAMPLING_ONLY = new Set<string>(['typical_p', 'epsilon_cutoff', 'eta_cutoff', 'top_h']);
const BEAM_ONLY = new Set<string>(['length_penalty']);

/** "More samplers" opens by itself when one of its settings is not at its default (a link that sets one). */
function moreOpen(settings: Settings): boolean {
  return (
    MORE_SAMPLERS.some((name) => settings[name] !== (name === 'top_h' ? 0 : optionSpec(name).default)) || settings.early_stopping !== false
  );
}

interface ControlsProps {
  settings: Settings;
  onChange: (patch: Partial<Settings>) => void;
  /** Number boxes whose text differs from the setting (being typed, or invalid). */
  drafts: Drafts;
  onDraft: (setting: NumberSetting, text: string | null) => void;
  onGenerate: () => void;
  /** Compare strategies: the lesson's six strategies on this prompt, side by side. */
  onCompare: () => void;
  onStop: () => void;
  canGenerate: boolean;
  /** Why Generate is off although a model is ready (an invalid box), shown beside it; null otherwise. */
  blocked: string | null;
  running: boolean;
  /** The loaded model's context (n_positions), which holds the prompt and the new tokens; null before a model has loaded. */
  contextSize: number | null;
}

/** The prompt and every generation setting, each a labelled control. */
export function Controls({
  settings,
  onChange,
  drafts,
  onDraft,
  onGenerate,
  onCompare,
  onStop,
  canGenerate,
  blocked,
  running,
  contextSize,
}: ControlsProps) {
  const id = useId();
  const [moreShown, setMoreShown] = useState(() => moreOpen(settings));
  const greedy = !settings.do_sample;
  const samplingHint = greedy ? 'Sample is off, so runs ignore this; the token inspector still shows what it would cut.' : undefined;
  const single = onlyLikeliest(settings);
  /** A sampling control's hint: what it does, or that its value leaves only the likeliest token. */
  const samplingControlHint = (setting: NumberSetting, usual: string) =>
    samplingHint ??
    (single?.setting === setting ? `${single.reason}: sampling is greedy decoding then, and every sequence is the same.` : usual);
  // The prompt is counted only when the run could overflow the context (its bytes bound its tokens).
  const mayOverflow = contextSize !== null && promptTokensAtMost(settings.prompt) + settings.max_new_tokens > contextSize;
  const promptTokens = usePromptTokenCount(settings.prompt, mayOverflow);
  const context = contextSize !== null && promptTokens !== null ? { size: contextSize, prompt: promptTokens } : null;
  const fit = context && contextFit(context.prompt, settings.max_new_tokens, context.size);
  const overflow = context && contextWarning(context.prompt, settings.max_new_tokens, context.size);
  const generateButton = useRef<HTMLButtonElement>(null);
  const stopButton = useRef<HTMLButtonElement>(null);

  // Generate and Stop disable themselves, which drops their focus to the page: focus moves to the
  // other one, unless the person had moved it somewhere else meanwhile (the prompt, the inspector).
  const wasRunning = useRef(running);
  useLayoutEffect(() => {
    if (wasRunning.current === running) return; // only a run starting or ending moves focus (not the page opening)
    wasRunning.current = running;
    const active = document.activeElement;
    const lost = active === null || active === document.body;
    // preventScroll: on a phone the page has scrolled to the output, which is what the person reads.
    if (running && (lost || active === generateButton.current)) stopButton.current?.focus({ preventScroll: true });
    if (!running && (lost || active === stopButton.current)) generateButton.current?.focus({ preventScroll: true });
  }, [running]);

  const promptNote = linkPromptNote(settings.prompt);
  const field = (setting: NumberSetting) => ({
    setting,
    label: LABELS[setting],
    value: settings[setting],
    draft: drafts[setting],
    onDraft: (text: string | null) => onDraft(setting, text),
    onChange: (value: number) => onChange({ [setting]: value }),
  });

  return (
    <form
      className="controls"
      onSubmit={(event) => {
        event.preventDefault();
        onGenerate();
      }}
    >
      <div className="field">
        <label className="field-label" htmlFor={`${id}-prompt`}>
          Prompt
        </label>
        <textarea
          id={`${id}-prompt`}
          rows={3}
          value={settings.prompt}
          spellCheck={false}
          onChange={(event) => onChange({ prompt: event.target.value })}
          aria-describedby={settings.prompt === '' ? `${id}-empty` : undefined}
        />
        {settings.prompt === '' && (
          <p className="field-hint" id={`${id}-empty`} data-testid="empty-prompt-hint">
            Empty: the model starts from &lt;|endoftext|&gt;, the token that separates documents in its training text, so it writes as if a
            new document began.
          </p>
        )}
        {promptNote && (
          <span className="field-hint" role="note" data-note="prompt-not-in-link">
            {promptNote}
          </span>
        )}
      </div>

      <div className="actions">
        <button
          type="submit"
          className="primary"
          disabled={!canGenerate || blocked !== null}
          ref={generateButton}
          aria-describedby={[blocked ? `${id}-blocked` : '', overflow ? `${id}-context` : ''].filter(Boolean).join(' ') || undefined}
        >
          Generate
        </button>
        <button type="button" className="secondary" onClick={onStop} disabled={!running} ref={stopButton}>
          Stop
        </button>
        <span className="field-hint kbd-hint">
          <kbd>Ctrl</kbd>+<kbd>Enter</kbd>
        </span>
        <button type="button" className="secondary" onClick={onCompare} disabled={!canGenerate || blocked !== null}>
          Compare strategies
        </button>
      </div>
      {blocked && (
        <p className="field-error" id={`${id}-blocked`} data-testid="generate-blocked">
          {blocked}
        </p>
      )}
      {overflow && (
        <div className="notice warn context-warning" id={`${id}-context`} data-testid="context-warning">
          <p>{overflow}</p>
          {fit && fit.room > 0 && (
            <div className="notice-actions">
              <button
                type="button"
                className="ghost small"
                onClick={() => {
                  onChange({ max_new_tokens: fit.room });
                  onDraft('max_new_tokens', null);
                  generateButton.current?.focus(); // the warning and this button go: the next step is to generate
                }}
              >
                Use {fit.room} new tokens
              </button>
            </div>
          )}
        </div>
      )}

      <h2 className="section-heading">Sampling</h2>
      <Switch label="Sample" className="field" checked={settings.do_sample} onChange={(on) => onChange({ do_sample: on })}>
        <span className="field-hint">
          {settings.do_sample ? 'on: draw each token at random' : 'off: greedy, always the likeliest token'}
        </span>
      </Switch>

      <NumberField {...field('top_k')} dimmed={greedy} hint={samplingControlHint('top_k', 'Keep the k likeliest tokens (0 = off).')} />
      <NumberField
        {...field('top_p')}
        dimmed={greedy}
        hint={samplingControlHint('top_p', 'Keep the likeliest tokens up to this total probability.')}
      />
      <NumberField {...field('temperature')} dimmed={greedy} hint={samplingHint ?? temperatureHint(settings)} />
      <NumberField
        {...field('min_p')}
        dimmed={greedy}
        hint={samplingControlHint('min_p', 'Drop tokens less likely than this fraction of the top token (0 = off).')}
      />
      <NumberField {...field('repetition_penalty')} hint="1 = none; higher discourages repeats." />
      <NumberField
        {...field('max_new_tokens')}
        hint={
          context && fit
            ? `The model's context holds ${context.size} tokens, prompt included: this prompt (${context.prompt} ${context.prompt === 1 ? 'token' : 'tokens'}) leaves room for ${fit.room}.`
            : contextSize === null
              ? 'How many tokens to write after the prompt.'
              : mayOverflow
                ? `The model's context holds ${contextSize} tokens, prompt included.`
                : `The model's context holds ${contextSize} tokens, prompt included: this prompt and ${settings.max_new_tokens} new tokens fit.`
        }
      />
      <NumberField
        {...field('num_return_sequences')}
        dimmed={settings.num_beams === 1 && (isGreedy(settings) || single !== null)}
        hint={
          settings.num_beams > 1
            ? `Beam search returns the best ${Math.min(settings.num_return_sequences, settings.num_beams)} of its ${settings.num_beams} beams (at most Beams).`
            : isGreedy(settings)
              ? 'Greedy decoding writes one sequence (they would all be the same).'
              : single && settings.num_return_sequences > 1
                ? `${single.reason}, so all ${settings.num_return_sequences} sequences will be the same.`
                : 'How many continuations to write at once.'
        }
      />
      <details
        className="more-samplers field"
        open={moreShown}
        onToggle={(event) => setMoreShown((event.target as HTMLDetailsElement).open)}
      >
        <summary>More samplers</summary>
        <p className="field-hint">
          Hugging Face&apos;s other warpers (in its order, after min-p), the n-gram block, and beam search. Each setting&apos;s name in the
          address is Hugging Face&apos;s.
        </p>
        {MORE_SAMPLERS.map((name) => (
          <NumberField
            key={name}
            {...field(name)}
            dimmed={SAMPLING_ONLY.has(name) ? greedy : BEAM_ONLY.has(name) ? settings.num_beams === 1 : false}
            hint={
              SAMPLING_ONLY.has(name) && samplingHint
                ? samplingHint
                : BEAM_ONLY.has(name) && settings.num_beams === 1
                  ? `${optionSpec(name).hint} Beams is 1, so runs ignore this.`
                  : `${optionSpec(name).hint}${name === 'top_h' ? ' 0 = off.' : ''}${name === 'num_beams' && settings.do_sample && settings.num_beams > 1 ? ' Sample is on: beam sampling (candidates drawn, not taken best first).' : ''}`
            }
          />
        ))}
        <div className="field">
          <label className="field-label" htmlFor={`${id}-early`}>
            {optionSpec('early_stopping').label}
          </label>
          <select
            id={`${id}-early`}
            value={String(settings.early_stopping)}
            onChange={(event) => onChange({ early_stopping: readEarlyStopping(event.target.value) ?? false })}
            aria-describedby={`${id}-early-hint`}
          >
            <option value="false">false: stop when no better sequence is likely</option>
            <option value="true">true: stop once num_beams sequences finished</option>
            <option value="never">never: stop when no better sequence is possible</option>
          </select>
          <span className="field-hint" id={`${id}-early-hint`}>
            {optionSpec('early_stopping').hint}
          </span>
        </div>
      </details>
      <NumberField
        {...field('seed')}
        slider={false}
        hint="The same seed and settings give the same text at the same precision (f16 and q8 move the probabilities, so they can change it)."
      >
        <button
          type="button"
          className="ghost small"
          onClick={() => {
            onChange({ seed: randomSeed() });
            onDraft('seed', null);
          }}
        >
          Randomise
        </button>
      </NumberField>
    </form>
  );
}
