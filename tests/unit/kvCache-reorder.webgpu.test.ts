// KVCache.reorder on real WebGPU (Dawn on SwiftShader): the fused path's cache (the concat cache's gather is tfjs's, tested on cpu and wasm).
import { describeReorder } from '../helpers/reorderSuite';
import { useWebGPUInNode } from '../helpers/webgpuNode';

const setup = async () => void (await useWebGPUInNode());
describeReorder('webgpu', setup, null, 'WebGPUKVCache');
