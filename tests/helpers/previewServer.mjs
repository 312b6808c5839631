// A `vite preview` server for the e2e tests, run as its own process so every e2e test file of one
// vitest run shares it. Usage: node previewServer.mjs <outDir> <port> <ownerPid>
// Prints one JSON line {port} when listening; exits by itself when the owner (vitest) exits.
import { preview } from 'vite';

const [outDir, port, ownerPid] = process.argv.slice(2);
const server = await preview({
  configFile: new URL('../../vite.config.ts', import.meta.url).pathname,
  logLevel: 'error',
  build: { outDir },
  preview: { host: '127.0.0.1', port: Number(port), strictPort: true, open: false },
});
process.stdout.write(`${JSON.stringify({ port: Number(port) })}\n`);

const ownerAlive = () => {
  try {
    process.kill(Number(ownerPid), 0);
    return true;
  } catch {
    return false;
  }
};
const timer = setInterval(async () => {
  if (ownerAlive()) return;
  clearInterval(timer);
  await server.close();
  process.exit(0);
}, 1000);
