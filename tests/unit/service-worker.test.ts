/**
 * The service worker (src/offline/serviceWorker.ts) run from the very source text the build writes
 * (serviceWorkerSource), in a stand-in service worker scope: install caches every file of the build
 * under its version; activate deletes older versions' caches and nothing else (the model cache
 * stays); the app's files come from the cache with COOP/COEP/CORP added, whole or as the 206 slice a
 * Range request asks for; a page load goes to the network first and falls back to the cached page; other origins
 * and non-GET requests are left to the browser. The browser side is tests/e2e/static-hosting.test.ts.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { serviceWorkerSource } from '../../src/offline/serviceWorker';

const SCOPE = 'https://app.example/gpt2/';

/** Cache Storage in memory: cache name → url → response. */
class Caches {
  readonly stores = new Map<string, Map<string, Response>>();
  async open(name: string) {
    const store = this.stores.get(name) ?? new Map<string, Response>();
    this.stores.set(name, store);
    return {
      addAll: async (requests: Request[]) => {
        for (const request of requests) store.set(request.url, new Response(`body of ${request.url}`, { status: 200 }));
      },
      put: async (url: string, response: Response) => void store.set(url, response),
      match: async (url: string) => store.get(url)?.clone(),
    };
  }
  async keys() {
    return [...this.stores.keys()];
  }
  async delete(name: string) {
    return this.stores.delete(name);
  }
}

type Listener = (event: unknown) => void;

/** Evaluates sw.js for `version` and `files` in a fresh stand-in scope; returns its handlers and state. */
function startWorker(version: string, files: string[], caches: Caches, network: (request: Request) => Promise<Response>) {
  const listeners = new Map<string, Listener>();
  const scope = {
    registration: { scope: SCOPE },
    location: new URL(`${SCOPE}sw.js`),
    clients: { claim: vi.fn(async () => {}) },
    skipWaiting: vi.fn(async () => {}),
    addEventListener: (type: string, listener: Listener) => listeners.set(type, listener),
  };
  vi.stubGlobal('self', scope);
  vi.stubGlobal('caches', caches);
  vi.stubGlobal('fetch', network);
  new Function(serviceWorkerSource(version, files))();
  /** Dispatches an extendable event and waits for what it extended. */
  const extendable = async (type: string) => {
    let work: Promise<unknown> = Promise.resolve();
    listeners.get(type)!({ waitUntil: (p: Promise<unknown>) => (work = p) });
    await work;
  };
  /** A fetch event: the worker's answer, or null when it left the request to the browser. */
  const fetchEvent = async (request: Request): Promise<Response | null> => {
    let answer: Promise<Response> | null = null;
    listeners.get('fetch')!({ request, respondWith: (p: Promise<Response>) => (answer = p) });
    return answer;
  };
  return { scope, extendable, fetchEvent };
}

const FILES = [
  'index.html',
  'assets/index-abc.js',
  'models/sherlock-gpt2/model.safetensors',
  'tfjs-wasm/tfjs-backend-wasm-threaded-simd.wasm',
];
const offline = async (): Promise<Response> => {
  throw new TypeError('Failed to fetch');
};

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('the service worker', () => {
  test('install caches every file of the build under its version; activate drops older versions only, and takes over', async () => {
    const caches = new Caches();
    await caches.open('app-files:old');
    await caches.open('gpt2-models-v1'); // the hub models the page keeps (src/sources/cache.ts)
    const sw = startWorker('v2', FILES, caches, offline);
    await sw.extendable('install');
    expect([...caches.stores.get('app-files:v2')!.keys()]).toEqual(FILES.map((f) => SCOPE + f));
    expect(sw.scope.skipWaiting).toHaveBeenCalled();
    await sw.extendable('activate');
    expect(await caches.keys()).toEqual(['gpt2-models-v1', 'app-files:v2']);
    expect(sw.scope.clients.claim).toHaveBeenCalled();
  });

  test("answers the app's files from the cache with the isolation headers: whole, or the asked range as a 206", async () => {
    const caches = new Caches();
    const network = vi.fn(offline);
    const sw = startWorker('v1', FILES, caches, network);
    await sw.extendable('install');
    const model = `${SCOPE}models/sherlock-gpt2/model.safetensors`;
    const whole = (await sw.fetchEvent(new Request(model)))!;
    expect(whole.status).toBe(200);
    expect(whole.headers.get('Content-Length')).toBe(String(`body of ${model}`.length));
    expect(await whole.text()).toBe(`body of ${model}`);
    const response = (await sw.fetchEvent(new Request(model, { headers: { Range: 'bytes=0-7' } })))!;
    expect(response.status).toBe(206);
    expect(response.headers.get('Content-Range')).toBe(`bytes 0-7/${`body of ${model}`.length}`);
    expect(await response.text()).toBe('body of ');
    const tail = (await sw.fetchEvent(new Request(model, { headers: { Range: 'bytes=5-' } })))!;
    expect(await tail.text()).toBe(`body of ${model}`.slice(5));
    expect(response.headers.get('Cross-Origin-Opener-Policy')).toBe('same-origin');
    expect(response.headers.get('Cross-Origin-Embedder-Policy')).toBe('require-corp');
    expect(response.headers.get('Cross-Origin-Resource-Policy')).toBe('same-origin');
    expect(network).not.toHaveBeenCalled();
  });

  test('a cached response keeps no Content-Encoding: its body is stored decoded, so a gzip length would read as a cut file', async () => {
    const caches = new Caches();
    const sw = startWorker('v1', FILES, caches, vi.fn(offline));
    await sw.extendable('install');
    const model = `${SCOPE}models/sherlock-gpt2/model.safetensors`;
    const text = `body of ${model}`;
    const store = (await caches.keys())[0];
    await (await caches.open(store)).put(model, new Response(text, { headers: { 'Content-Encoding': 'gzip', 'Content-Length': '5' } }));
    const response = (await sw.fetchEvent(new Request(model, { headers: { Range: 'bytes=0-7' } })))!;
    expect(response.headers.get('Content-Encoding')).toBeNull();
    expect(response.headers.get('Content-Range')).toBe(`bytes 0-7/${text.length}`);
  });

  test('a page load goes to the network first (headers added), and offline gets the cached page', async () => {
    const caches = new Caches();
    let online = true;
    const sw = startWorker('v1', FILES, caches, async () => {
      if (!online) throw new TypeError('Failed to fetch');
      return new Response('fresh page', { headers: { 'Content-Type': 'text/html' } });
    });
    await sw.extendable('install');
    const navigation = () => ({ url: `${SCOPE}?threads=2`, method: 'GET', mode: 'navigate', cache: 'default' }) as unknown as Request;
    const fresh = (await sw.fetchEvent(navigation()))!;
    expect(await fresh.text()).toBe('fresh page');
    expect(fresh.headers.get('Content-Type')).toBe('text/html');
    expect(fresh.headers.get('Cross-Origin-Embedder-Policy')).toBe('require-corp');
    online = false;
    const cached = (await sw.fetchEvent(navigation()))!;
    expect(await cached.text()).toBe(`body of ${SCOPE}index.html`);
    expect(cached.headers.get('Cross-Origin-Opener-Policy')).toBe('same-origin');
  });

  test('other files of the origin come from the network, isolated; other origins and POSTs are left to the browser', async () => {
    const caches = new Caches();
    const sw = startWorker('v1', FILES, caches, async (request) => new Response(`network ${request.url}`));
    await sw.extendable('install');
    const other = (await sw.fetchEvent(new Request(`${SCOPE}test-models/tiny/config.json`)))!;
    expect(await other.text()).toBe(`network ${SCOPE}test-models/tiny/config.json`);
    expect(other.headers.get('Cross-Origin-Resource-Policy')).toBe('same-origin');
    expect(await sw.fetchEvent(new Request('https://huggingface.co/gpt2/resolve/main/config.json'))).toBeNull();
    expect(await sw.fetchEvent(new Request(`${SCOPE}x`, { method: 'POST', body: '1' }))).toBeNull();
  });
});
