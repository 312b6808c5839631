/** Fused WGSL programs for GPT-2 decoding on tfjs's WebGPU backend (see docs/webgpu.md). */
export { embed } from './embedding';
export { layerNormRows } from './layerNorm';
export { linear, type LinearOptions, type LayerNormParams } from './linear';
export { writeKVCache } from './kvCacheWrite';
export { causalAttention, MAX_ATTENTION_POSITIONS } from './attention';
export { lmHead } from './lmHead';
export { startDispatchCounter, countDispatches, type DispatchCounter } from './dispatchCounter';
export { topKCandidates, MAX_GPU_TOP_K } from './topK';
