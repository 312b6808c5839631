// KVCache.reorder per cache kind on cpu and wasm: the WebAssembly (simd) cache and the concat (tfjs) one.
import { setupNodeBackend } from '../../src/backend/node';
import { describeReorder } from '../helpers/reorderSuite';

for (const backend of ['cpu', 'wasm'] as const) {
  const setup = async () => void (await setupNodeBackend(backend));
  describeReorder(backend, setup, null, 'SimdKVCache');
  describeReorder(backend, setup, { kind: 'concat' }, 'ConcatKVCache');
}
