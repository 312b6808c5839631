/**
 * Why the page runs on the backend it runs on, as the header says it. The worker's reason names
 * the address ("?backend=cpu was requested"), which is wrong when the Backend menu asked: then
 * the page says that the menu chose it.
 */
import type { BackendInfo } from '../worker/protocol';

const NAMES: Record<string, string> = { webgpu: 'WebGPU', wasm: 'WebAssembly (tfjs wasm)', webgl: 'WebGL', cpu: 'plain JavaScript' };

export function backendNote(info: Pick<BackendInfo, 'backend' | 'reason'>, request: string, fromMenu: boolean): string {
  // Only a backend that started as asked has the address in its reason; a fallback's reason says what failed.
  if (fromMenu && request !== 'auto' && request !== 'webgpu' && info.backend === request) {
    return `Not WebGPU: ${NAMES[request] ?? request} was chosen in the Backend menu.`;
  }
  return info.reason;
}

/** Where each backend runs the model, in plain words. */
const PLAIN: Record<string, string> = {
  wasm: 'The model runs on your processor (WebAssembly), not on a graphics card (WebGPU).',
  webgl: 'The model runs through WebGL, an older graphics interface, not WebGPU.',
  cpu: 'The model runs on your processor in plain JavaScript, which is slow, not on a graphics card (WebGPU).',
  webgpu: 'WebGPU runs here on a software emulation of a graphics card, on your processor, so it is slow.',
};

/**
 * The header's one plain line about a backend that is not WebGPU on a real GPU (the technical
 * reason, backendNote, goes behind a disclosure); null when it is.
 */
export function plainBackendLine(info: Pick<BackendInfo, 'backend' | 'reason'>): string | null {
  if (info.backend === 'webgpu' && info.reason === '') return null;
  return PLAIN[info.backend] ?? `The model runs on ${info.backend}, not on a graphics card (WebGPU).`;
}
