import { DEFAULT_REVISION } from './spec';

/** The public Hugging Face hub. Tests and mirrors point `hubUrl` elsewhere. */
export const DEFAULT_HUB_URL = 'https://huggingface.co';

/**
 * `{hub}/{repo}/resolve/{revision}/{file}`: the hub answers with the file, usually after a 302
 * to its CDN (fetch follows it; Range and CORS work across it).
 */
export function hubFileUrl(hubUrl: string, repo: string, revision: string, file: string): string {
  const base = hubUrl.replace(/\/+$/, '');
  const rev = encodeURIComponent(revision || DEFAULT_REVISION);
  return `${base}/${repo}/resolve/${rev}/${file}`;
}

/** The repo's page on the hub, for messages ("see https://huggingface.co/openai-community/gpt2"). */
export function hubRepoUrl(hubUrl: string, repo: string): string {
  return `${hubUrl.replace(/\/+$/, '')}/${repo}`;
}

/** A folder URL + file name, for url: and embedded specs. */
export function folderFileUrl(baseUrl: string, file: string): string {
  return `${baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`}${file}`;
}
