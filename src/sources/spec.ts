import { ModelSourceError } from './errors';
import { PRESETS, findPreset, presetForRepo } from './presets';

/** Where a model comes from. Plain data (except `files`), so it can be posted to the worker. */
export type ModelSpec =
  /** The small model the app ships in public/models/sherlock-gpt2/ (works offline). */
  | { kind: 'embedded' }
  /** A Hugging Face hub repo at a revision (branch, tag or commit), e.g. openai-community/gpt2@main. */
  | { kind: 'hub'; repo: string; revision: string }
  /** A folder URL holding config.json and model.safetensors, e.g. '/models/tiny-gpt2/'. */
  | { kind: 'url'; baseUrl: string }
  /** Files picked or dropped by the user (File is a Blob; in Node, fs.openAsBlob gives one). */
  | { kind: 'files'; config: Blob; weights: Blob; name?: string };

export const DEFAULT_REVISION = 'main';

// Hub repo ids: `name` or `owner/name`, letters, digits, '-', '_', '.'.
const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;
const REVISION = /^[\w.\-/]+$/;

/**
 * Reads a model spec written as text (the page's ?model=, the CLI's --model, a settings field):
 *   'embedded' or ''          the shipped default model
 *   'gpt2', 'gpt2-medium', …  a preset (see PRESETS)
 *   'hf:owner/name[@rev]'     any hub repo, revision defaults to 'main'
 *   'url:/models/tiny-gpt2/'  a folder URL with config.json + model.safetensors
 * Throws ModelSourceError('bad-spec') with the accepted forms otherwise.
 */
export function parseModelSpec(text: string): ModelSpec {
  const spec = text.trim();
  if (spec === '' || spec === 'embedded') return { kind: 'embedded' };
  if (spec.startsWith('url:')) {
    const baseUrl = spec.slice(4).trim();
    if (!baseUrl) throw badSpec(text, 'url: needs a folder URL after it, e.g. url:/models/tiny-gpt2/');
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(baseUrl)?.[1].toLowerCase();
    if (scheme && scheme !== 'http' && scheme !== 'https') {
      throw new ModelSourceError(
        'bad-spec',
        `Cannot use the model "${text}": url: downloads from http(s) folder addresses only, not ${scheme}: addresses. ` +
          'For a model on this computer, give its folder (--model DIR on the command line) or open its config.json and model.safetensors on the page.',
      );
    }
    return { kind: 'url', baseUrl: baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/` };
  }
  if (spec.startsWith('hf:')) return parseHubRepo(spec.slice(3), text);
  const preset = findPreset(spec);
  if (preset) return { kind: 'hub', repo: preset.repo, revision: DEFAULT_REVISION };
  throw badSpec(text, 'it is not a preset name, hf:owner/name[@revision] or url:FOLDER');
}

function parseHubRepo(body: string, original: string): ModelSpec {
  const at = body.lastIndexOf('@');
  const repo = (at >= 0 ? body.slice(0, at) : body).trim();
  const revision = (at >= 0 ? body.slice(at + 1) : DEFAULT_REVISION).trim();
  if (!REPO_ID.test(repo) || repo.includes('..')) {
    throw badSpec(original, `"${repo}" is not a hub repo id (expected owner/name, e.g. openai-community/gpt2)`);
  }
  if (!REVISION.test(revision) || revision.includes('..')) {
    throw badSpec(original, `"${revision}" is not a revision (a branch, tag or commit hash, e.g. main)`);
  }
  return { kind: 'hub', repo, revision };
}

function badSpec(text: string, why: string): ModelSourceError {
  const presets = PRESETS.map((p) => p.id).join(', ');
  return new ModelSourceError(
    'bad-spec',
    `Cannot use the model "${text}": ${why}. Use one of ${presets}, hf:owner/name[@revision], url:FOLDER or embedded.`,
  );
}

/** The inverse of parseModelSpec, for URLs and settings (local files have no text form). */
export function formatModelSpec(spec: ModelSpec): string {
  switch (spec.kind) {
    case 'embedded':
      return 'embedded';
    case 'hub': {
      const preset = presetForRepo(spec.repo);
      if (preset && spec.revision === DEFAULT_REVISION) return preset.id;
      return `hf:${spec.repo}${spec.revision === DEFAULT_REVISION ? '' : `@${spec.revision}`}`;
    }
    case 'url':
      return `url:${spec.baseUrl}`;
    case 'files':
      return `files:${spec.name ?? ((spec.weights as File).name || 'model.safetensors')}`;
  }
}

/** A short name for the UI: 'GPT-2 medium (openai-community/gpt2-medium)', 'Sherlock GPT-2 (built in)'. */
export function describeModelSpec(spec: ModelSpec): string {
  switch (spec.kind) {
    case 'embedded':
      return 'Sherlock GPT-2 (built in)';
    case 'hub': {
      const preset = presetForRepo(spec.repo);
      const rev = spec.revision === DEFAULT_REVISION ? '' : `@${spec.revision}`;
      return preset ? `${preset.label} (${spec.repo}${rev})` : `${spec.repo}${rev}`;
    }
    case 'url':
      return spec.baseUrl;
    case 'files':
      return spec.name ?? ((spec.weights as File).name || 'local files');
  }
}
