// `npm run preview:static`: the production build (dist/) from a plain static file server, the way
// GitHub Pages and most simple hosts serve it: files and content types, no COOP / COEP or other
// headers. The app's service worker (src/offline) makes the page cross-origin isolated after its
// first load, so the Details show crossOriginIsolated and more than one thread where the machine
// has cores; and it keeps the app and the built-in model for offline use. The server is the one
// tests/e2e/static-hosting.test.ts checks this with. Usage: tsx scripts/preview-static.ts [port [folder]]
// (port 0: any free one; folder: another build than dist/).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStaticServer } from '../tests/helpers/staticServer';

const port = Number(process.argv[2] ?? 4174);
const dist = path.resolve(process.argv[3] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist'));
const server = await startStaticServer(dist, {}, undefined, port);
console.log(`The build (${dist}) on a plain static server, no headers: ${server.url}`);
console.log('The first load registers the service worker and reloads once, isolated. Ctrl+C stops.');
