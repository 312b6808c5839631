/**
 * The page's side of the service worker (serviceWorker.ts, built as sw.js): registers it, and on a
 * page that is not yet cross-origin isolated (the first visit on a host without COOP/COEP headers)
 * waits for it to take control and reloads once, so the page comes back through it, isolated.
 */

/** sessionStorage key: a reload for isolation already happened in this tab (never loop). */
const RELOADED_KEY = 'gpt2-browser:isolation-reload';

/** What the page should do next: render the app, or nothing (it is reloading). */
export type Startup = 'render' | 'reloading';

interface PageScope {
  crossOriginIsolated: boolean;
  isSecureContext: boolean;
  navigator: Navigator;
  location: Location;
  sessionStorage: Storage;
  document: Document;
}

/**
 * Registers sw.js (relative to the page's base) and decides: `render` at once where the page is
 * isolated already (the worker still installs, for offline use), where service workers do not
 * exist or fail, or after one reload that did not isolate the page; otherwise waits until the
 * worker controls the page, reloads, and resolves `reloading`.
 */
export async function startWithServiceWorker(scope: PageScope = globalThis as unknown as PageScope): Promise<Startup> {
  const { navigator } = scope;
  if (!('serviceWorker' in navigator) || !scope.isSecureContext) return 'render';
  const registering = navigator.serviceWorker.register(new URL('sw.js', scope.document.baseURI), { scope: './' });
  if (scope.crossOriginIsolated) {
    scope.sessionStorage.removeItem(RELOADED_KEY);
    registering.catch((error) => console.warn(`offline use is not available: the service worker did not register (${String(error)})`));
    return 'render';
  }
  if (scope.sessionStorage.getItem(RELOADED_KEY)) return 'render'; // reloaded once and still not isolated: this browser does not honour the worker's headers
  let registration: ServiceWorkerRegistration;
  try {
    registration = await registering;
  } catch (error) {
    console.warn(`the page runs on one thread: the service worker that isolates it did not register (${String(error)})`);
    return 'render';
  }
  if (!navigator.serviceWorker.controller && !(await controlled(navigator.serviceWorker, registration))) return 'render';
  scope.sessionStorage.setItem(RELOADED_KEY, '1');
  scope.location.reload();
  return 'reloading';
}

/** Resolves true once the worker controls the page, false if it fails to install. */
function controlled(container: ServiceWorkerContainer, registration: ServiceWorkerRegistration): Promise<boolean> {
  return new Promise((resolve) => {
    container.addEventListener('controllerchange', () => resolve(true), { once: true });
    const installing = registration.installing ?? registration.waiting;
    if (!installing) return resolve(registration.active !== null); // active already: a reload's page load goes through it
    installing.addEventListener('statechange', () => {
      if (installing.state === 'redundant') resolve(false);
    });
  });
}
