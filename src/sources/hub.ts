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

/**
 * What the cache files a hub's downloads under: its URL without a trailing slash (origin, plus a
 * path for a mirror that lives under one), or undefined for huggingface.co, whose files keep the
 * plain repo@revision keys. So a mirror's copy of `openai-community/gpt2` is never what a load
 * from another hub gets.
 */
export function hubCacheId(hubUrl: string | undefined): string | undefined {
  if (!hubUrl) return undefined;
  let id: string;
  try {
    const url = new URL(hubUrl);
    id = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    id = hubUrl.replace(/\/+$/, '');
  }
  return id === DEFAULT_HUB_URL ? undefined : id;
}

/** The repo's page on the hub, for messages ("see https://huggingface.co/openai-community/gpt2"). */
export function hubRepoUrl(hubUrl: string, repo: string): string {
  return `${hubUrl.replace(/\/+$/, '')}/${repo}`;
}

/** A folder URL + file name, for url: and embedded specs. */
export function folderFileUrl(baseUrl: string, file: string): string {
  return `${baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`}${file}`;
}
