import { useEffect, useId, useState } from 'react';
import type { ModelSpec } from '../../worker/protocol';
import type { BackendMemory, PrecisionRequest } from '../../worker/protocol';
import { EMBEDDED_MODEL, hubSpecText, LOCAL_MODEL, MODEL_OPTIONS, modelOptions, readModelSpec } from '../modelSpec';
import { localModelSpec, pickedFiles, type LocalFile } from '../localModel';
import { errorMessage } from '../../util/errorMessage';

const OTHER_HUB = '__other-hub__';

interface ModelPickerProps {
  /** The spec text of the model loaded (or loading) now. */
  current: string;
  busy: boolean;
  onLoad: (specText: string, spec: ModelSpec) => void;
  /** The precision the menu's memory figures are for. */
  precision?: PrecisionRequest;
  /** The running backend's limits (wasm until the worker reports). */
  memory?: BackendMemory;
}

/**
 * The model chooser: the built-in model, the GPT-2 presets, any hub repository, or
 * config.json + model.safetensors from disk (picked as files or as their folder; a drop on the
 * page is handled by the page). Loading starts only on "Load model", because some choices are gigabytes.
 */
export function ModelPicker({ current, busy, onLoad, precision = 'auto', memory }: ModelPickerProps) {
  const id = useId();
  const known = MODEL_OPTIONS.some((o) => o.value === current) || current === LOCAL_MODEL;
  const [choice, setChoice] = useState(known ? current : current.startsWith('hf:') ? OTHER_HUB : current);
  const [repo, setRepo] = useState(current.startsWith('hf:') ? current.slice(3) : '');
  // The model in use changed (a load finished, or the page fell back to the built-in one): show it.
  useEffect(() => {
    setChoice(known ? current : current.startsWith('hf:') ? OTHER_HUB : current);
    if (current.startsWith('hf:')) setRepo(current.slice(3));
  }, [current, known]);
  const [files, setFiles] = useState<LocalFile[]>([]);
  const [problem, setProblem] = useState<string | null>(null);

  const load = async () => {
    setProblem(null);
    if (choice === LOCAL_MODEL) {
      try {
        onLoad(LOCAL_MODEL, await localModelSpec(files));
      } catch (error) {
        setProblem(errorMessage(error));
      }
      return;
    }
    const text = choice === OTHER_HUB ? hubSpecText(repo) : choice;
    const read = readModelSpec(text);
    if ('problem' in read) {
      setProblem(read.problem);
      return;
    }
    onLoad(text, read.spec);
  };

  const extra = !known && choice !== OTHER_HUB && current !== EMBEDDED_MODEL;

  return (
    <div className="model-picker">
      <label className="field-label" htmlFor={`${id}-model`}>
        Model
      </label>
      <div className="model-row">
        <select id={`${id}-model`} value={choice} onChange={(event) => setChoice(event.target.value)}>
          {modelOptions(precision, memory).map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
          {extra && <option value={current}>{current}</option>}
          <option value={OTHER_HUB}>Other Hugging Face repository…</option>
          <option value={LOCAL_MODEL}>Files from this computer…</option>
        </select>
        <button type="button" className="secondary" onClick={() => void load()} disabled={busy}>
          Load model
        </button>
      </div>
      {choice === OTHER_HUB && (
        <div className="model-extra">
          <label className="field-label" htmlFor={`${id}-repo`}>
            Hub repository
          </label>
          <input
            id={`${id}-repo`}
            type="text"
            placeholder="owner/name or owner/name@revision"
            value={repo}
            spellCheck={false}
            onChange={(event) => setRepo(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter') void load();
            }}
          />
        </div>
      )}
      {choice === LOCAL_MODEL && (
        <div className="model-extra">
          <label className="field-label" htmlFor={`${id}-files`}>
            Checkpoint files
          </label>
          <input
            id={`${id}-files`}
            type="file"
            multiple
            accept=".json,.safetensors"
            onChange={(event) => setFiles(pickedFiles(event.target.files))}
          />
          <label className="field-label" htmlFor={`${id}-folder`}>
            Or their folder
          </label>
          {/* webkitdirectory: the browser asks for a folder and gives every file in it, with its path. */}
          <input
            id={`${id}-folder`}
            type="file"
            {...{ webkitdirectory: '' }}
            onChange={(event) => setFiles(pickedFiles(event.target.files))}
          />
          <p className="field-hint">
            Select config.json and model.safetensors together, or the folder that holds them, or drop them on this page.
          </p>
        </div>
      )}
      {problem && (
        <p className="inline-error" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}
