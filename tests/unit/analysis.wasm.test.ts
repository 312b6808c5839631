// Issue 13's engine checks (attention, logit lens, fork, branch) on tfjs-backend-wasm, with both of its cache kinds.
import { describeAnalysisOnFixture } from '../helpers/analysisSuite';
import { useBackend } from '../helpers/webgpuNode';

describeAnalysisOnFixture(
  'wasm',
  async () => {
    await useBackend('wasm');
  },
  [
    { name: 'simd', options: { kind: 'simd' }, className: 'SimdKVCache' },
    { name: 'concat', options: { kind: 'concat' }, className: 'ConcatKVCache' },
  ],
);
