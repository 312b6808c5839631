/**
 * The model the app ships (public/models/sherlock-gpt2/), loaded when nothing else is chosen, so
 * the page works with no network at all. Vite serves public/ at BASE_URL.
 */
export const EMBEDDED_MODEL_FOLDER = 'models/sherlock-gpt2/';

/**
 * The embedded model's folder as an absolute URL.
 *
 * `pageUrl` is the page's address (document.baseURI); pass it from the page when calling from a
 * worker, because a relative BASE_URL ('./', this app's setting) must resolve against the page,
 * not against the worker script. Without it, a window uses document.baseURI and a built worker
 * (emitted into assets/) resolves against the folder above its own script.
 */
export function embeddedModelUrl(pageUrl?: string): string {
  const base = import.meta.env?.BASE_URL ?? '/';
  const folder = `${base.endsWith('/') ? base : `${base}/`}${EMBEDDED_MODEL_FOLDER}`;
  return new URL(folder, pageUrl ?? defaultPageUrl(base)).href;
}

function defaultPageUrl(base: string): string {
  const doc = (globalThis as { document?: { baseURI: string } }).document;
  if (doc) return doc.baseURI;
  const here = (globalThis as { location?: { href: string } }).location?.href ?? 'http://localhost/';
  // Relative bases only occur in builds, where worker chunks sit one folder below the page.
  return base.startsWith('.') ? new URL('../', here).href : here;
}
