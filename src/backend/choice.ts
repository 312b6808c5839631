/**
 * Which tfjs backend to run on, and why: pure decisions over what the browser reported, so the
 * reasons a person sees ("no WebGPU adapter", "forced by ?backend=wasm") are data and testable.
 * src/backend/select.ts performs the probing and the tfjs calls.
 */

export const BACKENDS = ['webgpu', 'wasm', 'webgl', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export function isBackendName(name: string): name is BackendName {
  return (BACKENDS as readonly string[]).includes(name);
}

/** What a WebGPU adapter said about itself (GPUAdapterInfo, flattened). */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

/** What probing navigator.gpu found. */
export type WebGPUProbe =
  { status: 'no-api' } | { status: 'no-adapter' } | { status: 'error'; message: string } | { status: 'ok'; adapter: AdapterDescription };

export interface BackendPolicy {
  /**
   * A software WebGPU adapter (SwiftShader, a fallback adapter) emulates the GPU on the CPU and is
   * about 100× slower than wasm (docs/benchmarks.md), so by default wasm runs instead.
   * `?backend=webgpu` still forces WebGPU on such an adapter.
   */
  preferWasmOverSoftwareWebGPU: boolean;
}

export const DEFAULT_POLICY: BackendPolicy = { preferWasmOverSoftwareWebGPU: true };

export interface BackendCandidate {
  backend: BackendName;
  /** Why this backend is being tried, in words for the page. Empty for the normal case (WebGPU). */
  reason: string;
}

/** A short human name for an adapter, e.g. "google swiftshader (software)". */
export function adapterName(adapter: AdapterDescription): string {
  const parts = [adapter.vendor, adapter.architecture, adapter.device, adapter.description]
    .map((part) => part.trim())
    .filter((part, i, all) => part !== '' && all.indexOf(part) === i);
  const name = parts.length > 0 ? parts.join(' ') : 'unnamed adapter';
  return isSoftwareAdapter(adapter) ? `${name} (software)` : name;
}

export function isSoftwareAdapter(adapter: AdapterDescription): boolean {
  if (adapter.isFallbackAdapter) return true;
  const text = `${adapter.vendor} ${adapter.architecture} ${adapter.device} ${adapter.description}`.toLowerCase();
  return text.includes('swiftshader') || text.includes('llvmpipe') || text.includes('software');
}

/** Why WebGPU cannot be used, or null when it can. */
export function whyNotWebGPU(probe: WebGPUProbe, policy: BackendPolicy = DEFAULT_POLICY): string | null {
  switch (probe.status) {
    case 'no-api':
      return 'this browser has no WebGPU (navigator.gpu is missing; in Chromium it may be disabled or blocklisted for this GPU)';
    case 'no-adapter':
      return 'no WebGPU adapter is available (navigator.gpu.requestAdapter() returned null: the GPU is blocklisted, disabled, or absent)';
    case 'error':
      return `requesting a WebGPU adapter failed: ${probe.message}`;
    case 'ok':
      if (policy.preferWasmOverSoftwareWebGPU && isSoftwareAdapter(probe.adapter)) {
        return `the only WebGPU adapter is a software emulation (${adapterName(probe.adapter)}), slower than WebAssembly`;
      }
      return null;
  }
}

/**
 * The backends to try, in order, each with the reason it is tried. `requested` is the
 * `?backend=` URL parameter (or undefined for automatic choice).
 */
export function planBackends(
  requested: string | undefined,
  probe: WebGPUProbe,
  policy: BackendPolicy = DEFAULT_POLICY,
): BackendCandidate[] {
  const request = requested?.trim().toLowerCase() || undefined;
  const notWebGPU = whyNotWebGPU(probe, policy);
  const fallbacks = (because: string): BackendCandidate[] => [
    { backend: 'wasm', reason: `Not WebGPU because ${because}. Running on WebAssembly (tfjs wasm) instead.` },
    { backend: 'webgl', reason: `Not WebGPU because ${because}; WebAssembly did not start either, so using WebGL.` },
    { backend: 'cpu', reason: `Not WebGPU because ${because}; WebAssembly and WebGL did not start, so using plain JavaScript (slow).` },
  ];

  if (request && request !== 'auto') {
    if (!isBackendName(request)) {
      const known = BACKENDS.join(', ');
      const auto = planBackends(undefined, probe, policy);
      return auto.map((c) => ({
        backend: c.backend,
        reason: `Unknown backend "${requested}" requested (choose one of ${known}); choosing automatically. ${c.reason}`.trim(),
      }));
    }
    // Asked for by name, a software adapter is still WebGPU: only its absence stops it.
    const noWebGPU = whyNotWebGPU(probe, { ...policy, preferWasmOverSoftwareWebGPU: false });
    if (request === 'webgpu' && noWebGPU) {
      return fallbacks(`${noWebGPU} (WebGPU was requested)`);
    }
    const software = probe.status === 'ok' && isSoftwareAdapter(probe.adapter);
    const forced: BackendCandidate = {
      backend: request,
      reason:
        request !== 'webgpu'
          ? `Not WebGPU because ?backend=${request} was requested.`
          : software
            ? 'WebGPU was requested; it runs on a software adapter (CPU emulation), so it is slow.'
            : '',
    };
    const rest = BACKENDS.filter((b) => b !== request && (b !== 'webgpu' || !notWebGPU));
    return [forced, ...rest.map((b) => ({ backend: b, reason: `${request} was requested but failed to start; falling back to ${b}.` }))];
  }

  if (notWebGPU) return fallbacks(notWebGPU);
  const software = probe.status === 'ok' && isSoftwareAdapter(probe.adapter);
  return [
    { backend: 'webgpu', reason: software ? 'WebGPU runs on a software adapter (CPU emulation), so it is slow.' : '' },
    ...fallbacks('WebGPU failed to start'),
  ];
}
