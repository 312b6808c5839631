import { useCallback, useEffect, useState } from 'react';
import { BrowserModelCache, storageEstimate, type CachedModel } from '../../sources/cache';
import { formatBytes } from '../../sources/errors';
import { DEFAULT_REVISION, formatModelSpec, type ModelSpec } from '../../sources/spec';
import { errorMessage } from '../../util/errorMessage';

interface CachedModelsProps {
  /** Changes whenever a load finishes, so the list is read again. */
  refreshKey: unknown;
  busy: boolean;
  /** `hubUrl`: the hub the copy came from ('' = huggingface.co), so a load finds that copy. */
  onUse: (specText: string, spec: ModelSpec, hubUrl: string) => void;
}

/** Hub models kept in this browser's Cache Storage, to reuse offline or delete. */
export function CachedModels({ refreshKey, busy, onUse }: CachedModelsProps) {
  const [models, setModels] = useState<CachedModel[]>([]);
  const [usage, setUsage] = useState<{ usage: number; quota: number } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const cache = await BrowserModelCache.open();
      setModels(await cache.list());
      setUsage(await storageEstimate());
    } catch {
      setModels([]); // no Cache Storage here: nothing was kept, nothing to show
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh, refreshKey]);

  if (models.length === 0) return null;

  const remove = async (model: CachedModel) => {
    setProblem(null);
    try {
      await (await BrowserModelCache.open()).delete(model.repo, model.revision, model.hub);
    } catch (error) {
      setProblem(`Could not delete ${model.repo}: ${errorMessage(error)}`);
    }
    await refresh();
  };

  return (
    <details className="cached-models">
      <summary>
        Downloaded models ({models.length}
        {usage ? `, ${formatBytes(usage.usage)} of ${formatBytes(usage.quota)} used` : ''})
      </summary>
      <ul>
        {models.map((model) => {
          const spec: ModelSpec = { kind: 'hub', repo: model.repo, revision: model.revision };
          const name = `${model.repo}${model.revision === DEFAULT_REVISION ? '' : `@${model.revision}`}`;
          return (
            <li key={`${model.hub ?? ''} ${model.repo}@${model.revision}`}>
              <span className="cached-name">
                {name}
                <span className="field-hint">
                  {' '}
                  {formatBytes(model.totalBytes)}
                  {model.complete ? '' : ', partly downloaded'}
                  {model.hub ? `, from ${model.hub}` : ''}
                </span>
              </span>
              <button
                type="button"
                className="ghost small"
                disabled={busy}
                onClick={() => onUse(formatModelSpec(spec), spec, model.hub ?? '')}
                aria-label={`Load ${name}`}
              >
                Load
              </button>
              <button
                type="button"
                className="ghost small"
                disabled={busy}
                onClick={() => void remove(model)}
                aria-label={`Delete ${name}`}
              >
                Delete
              </button>
            </li>
          );
        })}
      </ul>
      {problem && (
        <p className="inline-error" role="alert">
          {problem}
        </p>
      )}
    </details>
  );
}
