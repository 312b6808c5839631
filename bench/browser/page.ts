/**
 * The benchmark page: runs the jobs the driver gives it (window.__benchJobs), each in a fresh
 * module worker, and publishes the results on window.__benchResults / __benchDone.
 */
import type { BrowserJob, BrowserJobResult, FromBenchWorker } from './protocol';

declare global {
  interface Window {
    __benchJobs?: BrowserJob[];
    __benchResults: BrowserJobResult[];
    __benchDone: boolean;
    runBench(jobs: BrowserJob[]): Promise<BrowserJobResult[]>;
  }
}

const logEl = document.getElementById('log')!;
function log(line: string): void {
  console.log(line);
  logEl.textContent += line + '\n';
}

function runJob(job: BrowserJob): Promise<BrowserJobResult> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    worker.addEventListener('message', (event: MessageEvent<FromBenchWorker>) => {
      const message = event.data;
      if (message.type === 'log') log(message.line);
      else {
        worker.terminate(); // frees the wasm heap / GPU device before the next job
        resolve(message.result);
      }
    });
    worker.addEventListener('error', (event) => {
      worker.terminate();
      resolve({
        id: job.id,
        backend: job.backend,
        threads: 0,
        crossOriginIsolated,
        hardwareConcurrency: navigator.hardwareConcurrency,
        error: event.message || 'worker failed to start',
      });
    });
    worker.postMessage(job);
  });
}

window.__benchResults = [];
window.__benchDone = false;
window.runBench = async (jobs) => {
  log(`crossOriginIsolated=${crossOriginIsolated} hardwareConcurrency=${navigator.hardwareConcurrency}`);
  for (const job of jobs) {
    const result = await runJob(job);
    if (result.error) log(`${job.id} failed: ${result.error}`);
    window.__benchResults.push(result);
  }
  window.__benchDone = true;
  return window.__benchResults;
};
