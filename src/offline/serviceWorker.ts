/**
 * The app's service worker (the build writes it as sw.js, see vite.config.ts): it makes the page
 * cross-origin isolated on any static host and keeps the app for offline use.
 *
 * - Isolation: every response of the app's own origin gets Cross-Origin-Opener-Policy: same-origin,
 *   Cross-Origin-Embedder-Policy: require-corp and Cross-Origin-Resource-Policy: same-origin, so the
 *   page, its worker and their threads get SharedArrayBuffer without server headers. Requests to
 *   other origins (the Hugging Face hub and the CDN hosts it redirects to) are not touched: the
 *   browser fetches them itself, under the page's Content-Security-Policy, with CORS.
 * - Offline: at install it caches the build's files (the page, scripts, tfjs's .wasm files, the
 *   built-in model) in a cache named by the build's version (a hash of its files); a new build is a
 *   new sw.js, which caches the new files and, once active, deletes every older version's cache.
 *   A page load goes to the network first (so a new build is seen at once) and falls back to the
 *   cached page; the build's other files come from the cache; anything else of the origin from the
 *   network.
 *
 * Its caches are named `app-files:VERSION`, apart from the page's model cache (src/sources/cache.ts).
 * `serviceWorkerMain` runs in the service worker from its source text (Function.prototype.toString),
 * so it refers to nothing outside itself.
 */

/** The worker's whole program: `version` names the build, `files` are its paths relative to the worker's scope. */
export function serviceWorkerMain(version: string, files: readonly string[]): void {
  const worker = self as unknown as ServiceWorkerGlobalScope;
  const cacheName = `app-files:${version}`;
  const scope = worker.registration.scope;
  const page = new URL('index.html', scope).href;
  const precached = new Set(files.map((file) => new URL(file, scope).href));

  const isolated = (response: Response): Response => {
    if (response.type === 'opaque' || response.type === 'opaqueredirect' || response.status === 0) return response;
    const headers = new Headers(response.headers);
    headers.set('Cross-Origin-Opener-Policy', 'same-origin');
    headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
    headers.set('Cross-Origin-Resource-Policy', 'same-origin');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };

  const respond = async (request: Request): Promise<Response> => {
    const cache = await caches.open(cacheName);
    if (request.mode === 'navigate') {
      try {
        return isolated(await fetch(request));
      } catch (error) {
        const cached = await cache.match(page);
        if (cached) return isolated(cached);
        throw error;
      }
    }
    const url = new URL(request.url);
    url.search = '';
    url.hash = '';
    const cached = precached.has(url.href) ? await cache.match(url.href) : undefined;
    return isolated(cached ? await fromCache(cached, request.headers.get('range')) : await fetch(request));
  };

  /**
   * A cached file as the server would send it: its body is stored decoded, so Content-Encoding and
   * the encoded Content-Length are dropped (a gzip length would read as a truncated file), and a
   * Range request gets its 206 slice, so a download the app began on the network carries on here.
   */
  const fromCache = async (response: Response, range: string | null): Promise<Response> => {
    const headers = new Headers(response.headers);
    headers.delete('content-encoding');
    const body = await response.blob();
    const asked = range === null ? null : /^bytes=(\d+)-(\d*)$/.exec(range.trim());
    if (!asked) {
      headers.set('content-length', String(body.size));
      return new Response(body, { status: 200, statusText: 'OK', headers });
    }
    const start = Number(asked[1]);
    const end = Math.min(asked[2] === '' ? body.size - 1 : Number(asked[2]), body.size - 1);
    if (start > end) {
      headers.delete('content-length');
      headers.set('content-range', `bytes */${body.size}`);
      return new Response(null, { status: 416, statusText: 'Range Not Satisfiable', headers });
    }
    headers.set('content-length', String(end - start + 1));
    headers.set('content-range', `bytes ${start}-${end}/${body.size}`);
    return new Response(body.slice(start, end + 1), { status: 206, statusText: 'Partial Content', headers });
  };

  worker.addEventListener('install', (event) => {
    event.waitUntil(
      caches
        .open(cacheName)
        .then((cache) => cache.addAll([...precached].map((url) => new Request(url, { cache: 'no-cache' }))))
        .then(() => worker.skipWaiting()),
    );
  });

  worker.addEventListener('activate', (event) => {
    event.waitUntil(
      caches
        .keys()
        .then((names) =>
          Promise.all(names.filter((name) => name.startsWith('app-files:') && name !== cacheName).map((name) => caches.delete(name))),
        )
        .then(() => worker.clients.claim()),
    );
  });

  worker.addEventListener('fetch', (event) => {
    const { request } = event;
    if (request.method !== 'GET' || new URL(request.url).origin !== worker.location.origin) return; // the hub: the browser's own fetch
    if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return; // a DevTools request that fetch() would refuse
    event.respondWith(respond(request));
  });
}

/** sw.js: the program above, called with the build's version and files. */
export function serviceWorkerSource(version: string, files: readonly string[]): string {
  return `// Generated by the build (src/offline/serviceWorker.ts): do not edit.\n(${serviceWorkerMain.toString()})(${JSON.stringify(version)}, ${JSON.stringify(files)});\n`;
}
