import type { AppState } from '../appState';
import { pageStatus, type PageStatus } from '../status';

/**
 * The page's one status: what is happening, or how the latest run or load ended (a failure
 * included), announced to screen readers as it changes. `override` is something the page itself
 * refused just now (a run with an invalid setting, a drop that is not a model).
 */
export function StatusLine({ state, override }: { state: AppState; override?: string | null }) {
  const status: PageStatus = override ? { text: override, tone: 'error', kind: 'page' } : pageStatus(state);
  const error = status.tone === 'error';
  return (
    <p
      className={`status-line ${error ? 'error' : ''}`}
      role={error ? 'alert' : 'status'}
      aria-live={error ? 'assertive' : 'polite'}
      data-run-status={state.run.status}
      data-status-kind={status.kind}
      data-testid={status.kind === 'load-error' ? 'load-error' : undefined}
    >
      {status.text}
    </p>
  );
}
