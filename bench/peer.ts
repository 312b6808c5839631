/**
 * The peer side: transformers.js (onnxruntime-web) on the same random 124M checkpoint in the same
 * Chromium, run by the peer's own script (../shared/peer, copied to a writable folder with its
 * ONNX export already made: see its README). Each run prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface PeerResult {
  peer: string;
  backend: string;
  prefill_ms?: number;
  decode_tok_s?: number;
  step_ms_pos20?: number;
  step_ms_pos140?: number;
  load_ms?: number;
  peak_pss_mb_all_chromium?: number;
  wasm_num_threads?: number;
  other_cpu_pct_during?: number;
  chromium?: string;
  error?: string;
  [key: string]: unknown;
}

export function peerReady(dir: string): string | null {
  if (!existsSync(path.join(dir, 'node_modules/@huggingface/transformers')))
    return `${dir} has no node_modules (npm install --ignore-scripts there)`;
  if (!existsSync(path.join(dir, 'models/gpt2-random/onnx/model.onnx')))
    return `${dir} has no ONNX export (models/gpt2-random/onnx/model.onnx)`;
  return null;
}

export function runPeer(
  dir: string,
  threads: number | undefined,
  newTokens: number,
  runs: number,
  log: (line: string) => void,
  dtype: 'fp32' | 'q8' = 'fp32',
): PeerResult {
  const args = ['bench_browser.mjs', '--device', 'wasm', '--new', String(newTokens), '--runs', String(runs)];
  if (threads) args.push('--threads', String(threads));
  if (dtype === 'q8') args.push('--dtype', 'q8');
  log(`peer: node ${args.join(' ')} (in ${dir})`);
  try {
    const out = execFileSync(process.execPath, args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      timeout: 900_000,
    });
    const line = out.trim().split('\n').pop() ?? '{}';
    return JSON.parse(line) as PeerResult;
  } catch (error) {
    return {
      peer: 'transformers.js',
      backend: `chromium-wasm${threads ? '-t' + threads : ''}${dtype === 'q8' ? '-q8' : ''}`,
      error: String((error as Error).message).slice(0, 500),
    };
  }
}
