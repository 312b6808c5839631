// Issue 13's engine checks (attention, logit lens, fork, branch) on tfjs cpu, with both of its cache kinds.
import * as tf from '@tensorflow/tfjs';
import { describeAnalysisOnFixture } from '../helpers/analysisSuite';

describeAnalysisOnFixture(
  'cpu',
  async () => {
    await tf.setBackend('cpu');
  },
  [
    { name: 'simd', options: { kind: 'simd' }, className: 'SimdKVCache' },
    { name: 'concat', options: { kind: 'concat' }, className: 'ConcatKVCache' },
  ],
);
