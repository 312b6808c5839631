// Issue 13's engine checks (attention, logit lens, fork, branch) on real WebGPU (Dawn on SwiftShader):
// the fused path's GPU cache and the generic path's concat cache. SwiftShader takes about a second
// per [rows, 50257] head matmul, so the lens is checked on the prompt's first 8 positions here (all
// of them on cpu and wasm).
import { describeAnalysisOnFixture } from '../helpers/analysisSuite';
import { useWebGPUInNode } from '../helpers/webgpuNode';

describeAnalysisOnFixture(
  'webgpu',
  async () => {
    await useWebGPUInNode();
  },
  [
    { name: 'WebGPU', options: {}, className: 'WebGPUKVCache' },
    { name: 'concat', options: { fusedWebGPU: false }, className: 'ConcatKVCache' },
  ],
  { lensPositions: 8 },
);
