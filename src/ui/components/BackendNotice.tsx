import type { BackendInfo } from '../../worker/protocol';
import { backendNote, plainBackendLine } from '../backendNote';

interface BackendNoticeProps {
  backend: BackendInfo | null;
  /** A failure outside any request (the status line says what it was). */
  failed: boolean;
  /** The backend the page asked for ("auto" or a name), and whether the Backend menu asked (not the address). */
  request: string;
  fromMenu: boolean;
}

/** Which backend runs, and, when it is not WebGPU on a real GPU, one plain line about it with the technical reason under Details. */
export function BackendNotice({ backend, failed, request, fromMenu }: BackendNoticeProps) {
  if (failed) return <span className="badge warn">The compute backend stopped (see the status)</span>;
  if (!backend) return <span className="badge muted">Starting the compute backend…</span>;
  const fast = backend.backend === 'webgpu' && backend.reason === '';
  const reason = backendNote(backend, request, fromMenu);
  // The menu's own note is already plain; any other reason is technical and goes under Details.
  const plain = reason === backend.reason ? plainBackendLine(backend) : null;
  return (
    <div className="backend">
      <span className={`badge ${fast ? 'good' : 'warn'}`} data-backend={backend.backend}>
        Running on {backend.backend}
        {backend.adapter ? ` · ${backend.adapter}` : ''}
      </span>
      {reason &&
        (plain ? (
          <div className="notice warn backend-reason" data-testid="backend-reason">
            <p>{plain}</p>
            <details>
              <summary>Details</summary>
              <p>{reason}</p>
            </details>
          </div>
        ) : (
          <p className="notice warn" data-testid="backend-reason">
            {reason}
          </p>
        ))}
      {backend.backend === 'wasm' && !backend.crossOriginIsolated && (
        <p className="notice warn" data-testid="single-thread">
          WebAssembly runs on one thread: this page is served without the Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy
          headers that its threads need (see the README's Static hosting).
        </p>
      )}
    </div>
  );
}
