import { liveTokensPerSecond, type AppState } from '../appState';

function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

function parameters(count: number): string {
  return count >= 1e9 ? `${(count / 1e9).toFixed(2)}B` : count >= 1e6 ? `${(count / 1e6).toFixed(1)}M` : `${(count / 1e3).toFixed(0)}K`;
}

/** The threads that run the matrix products: the q8 / f16 kernels' own once such a model is loaded, else tfjs-wasm's pool. */
function threadsShown({ backend, model }: AppState): string | undefined {
  if (model.info?.threads) return `${model.info.threads} (${model.info.precision} kernels)`;
  return backend?.threads ? String(backend.threads) : undefined;
}

/** Measured numbers only: what the worker reported, nothing estimated. */
export function StatsPanel({ state }: { state: AppState }) {
  const { backend, model, run } = state;
  const finished = run.status === 'done' || run.status === 'stopped';
  const rate = finished && run.stats ? run.stats.decodeTokensPerSecond : liveTokensPerSecond(run);
  const info = model.info;
  const rows: [string, string, string][] = [
    ['backend', 'Backend', backend ? backend.backend : 'starting…'],
    ...(threadsShown(state) ? [['threads', 'Threads', threadsShown(state)!] as [string, string, string]] : []),
    ['adapter', 'Adapter', backend?.adapter ?? (backend ? 'none (not WebGPU)' : '—')],
    ['model', 'Model', info ? `${info.name} · ${parameters(info.parameters)} params · ${info.nLayer} layers` : '—'],
    [
      'precision',
      'Precision',
      info?.precision
        ? `${info.precision}${info.weightBytes ? ` · weights ${(info.weightBytes / 1e9).toFixed(2)} GB` : ''}${info.precisionReason?.startsWith('auto') ? ` (${info.precisionReason})` : ''}`
        : '—',
    ],
    ['load-time', 'Model load time', ms(model.loadMs)],
    ['ttft', 'Time to first token', ms(run.firstTokenMs)],
    ['tokens-per-second', 'Tokens/s', rate === null || !Number.isFinite(rate) ? '—' : rate.toFixed(1)],
    ['tokens', 'Tokens generated', String(run.tokenCount)],
    [
      'memory',
      'Model memory (tfjs)',
      state.memory ? `${state.memory.tensors} tensors · ${(state.memory.bytes / 2 ** 20).toFixed(1)} MB` : '—',
    ],
  ];
  return (
    <section className="stats" aria-label="Stats">
      <dl>
        {rows.map(([key, label, value]) => (
          <div key={key} className="stat" data-stat={key}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
