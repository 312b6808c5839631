import type { BackendInfo } from '../../worker/protocol';

/** Which backend runs, and, when it is not WebGPU on a real GPU, why. */
export function BackendNotice({ backend, error }: { backend: BackendInfo | null; error: string | null }) {
  if (error) {
    return (
      <div className="notice error" role="alert">
        {error}
      </div>
    );
  }
  if (!backend) return <span className="badge muted">Starting the compute backend…</span>;
  const fast = backend.backend === 'webgpu' && backend.reason === '';
  return (
    <div className="backend">
      <span className={`badge ${fast ? 'good' : 'warn'}`} data-backend={backend.backend}>
        Running on {backend.backend}
        {backend.adapter ? ` · ${backend.adapter}` : ''}
      </span>
      {backend.reason && (
        <p className="notice warn" data-testid="backend-reason">
          {backend.reason}
        </p>
      )}
      {backend.backend === 'wasm' && !backend.crossOriginIsolated && (
        <p className="notice warn" data-testid="single-thread">
          WebAssembly runs on one thread: this page is served without the Cross-Origin-Opener-Policy and
          Cross-Origin-Embedder-Policy headers that its threads need (see the README's Static hosting).
        </p>
      )}
    </div>
  );
}
