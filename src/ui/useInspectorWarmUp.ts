import { useEffect, useRef } from 'react';
import { GPT2_VOCAB_SIZE } from '../tokenizer/vocabulary';
import { warmUpInspector } from './inspection';
import type { SamplerSettings } from '../generation/inspect';

/** Once a model is ready (`vocabSize` known), compiles the inspector's math while the page is idle (see warmUpInspector); once per page. */
export function useInspectorWarmUp(vocabSize: number | undefined, sliders: SamplerSettings): void {
  const warmed = useRef(false);
  useEffect(() => {
    if (!vocabSize || warmed.current) return;
    warmed.current = true;
    const idle = (task: () => void) => ('requestIdleCallback' in window ? window.requestIdleCallback(task) : setTimeout(task, 200));
    warmUpInspector(Math.min(vocabSize, GPT2_VOCAB_SIZE), sliders, idle);
  }, [vocabSize, sliders]);
}
