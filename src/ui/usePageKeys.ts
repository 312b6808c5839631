import { useEffect } from 'react';

/** Ctrl+Enter (Cmd+Enter on a Mac) calls `onGenerate` from anywhere on the page; Escape calls `onStop` while there is one (a run or an analysis going). */
export function usePageKeys(onGenerate: () => void, onStop: (() => void) | null): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        onGenerate();
      } else if (event.key === 'Escape' && onStop) {
        onStop();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onGenerate, onStop]);
}
