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
