import { useEffect, useRef, useState } from 'react';
import type { FinishReason } from '../../worker/protocol';

interface OutputPaneProps {
  index: number;
  prompt: string;
  text: string;
  streaming: boolean;
  finishReason?: FinishReason;
}

const FINISH_LABELS: Record<FinishReason, string> = {
  length: 'max tokens',
  eos: 'end of text',
  stop: 'stop string',
  abort: 'stopped',
};

/** One generated sequence: the prompt, then the text as it streams in. Always text, never HTML. */
export function OutputPane({ index, prompt, text, streaming, finishReason }: OutputPaneProps) {
  const name = `Output ${index + 1}`;
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle');
  const body = useRef<HTMLDivElement>(null);

  // Follow the text as it grows, like a terminal.
  useEffect(() => {
    const element = body.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [text]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(prompt + text);
      setCopied('copied');
    } catch {
      setCopied('failed');
    }
    setTimeout(() => setCopied('idle'), 1500);
  };

  return (
    <section className="output-pane" role="region" aria-label={name} aria-busy={streaming}>
      <header className="output-head">
        <h3>{name}</h3>
        <span className="output-state">{streaming ? 'writing…' : finishReason ? FINISH_LABELS[finishReason] : ''}</span>
        <button type="button" className="ghost small" onClick={copy} aria-label={`Copy output ${index + 1}`} disabled={text === ''}>
          {copied === 'copied' ? 'Copied' : copied === 'failed' ? 'Copy failed' : 'Copy'}
        </button>
      </header>
      <div className="output-text" ref={body}>
        <span className="output-prompt" data-part="prompt">
          {prompt}
        </span>
        <span className="output-generated" data-part="generated">
          {text}
        </span>
        {streaming && <span className="caret" aria-hidden="true" />}
      </div>
    </section>
  );
}
