// The app's fallback backend when WebGPU is missing: the same fixture checks on tfjs-backend-wasm.
import { describeEngineOnFixture } from '../helpers/engineSuite';
import { useBackend } from '../helpers/webgpuNode';

describeEngineOnFixture('wasm', async () => {
  await useBackend('wasm');
});
