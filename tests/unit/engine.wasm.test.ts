// The app's fallback backend when WebGPU is missing: the same fixture checks on tfjs-backend-wasm.
import { describeEngineOnFixture, describeWideMlp } from '../helpers/engineSuite';
import { useBackend } from '../helpers/webgpuNode';

const setup = () => useBackend('wasm');
describeEngineOnFixture('wasm', setup);
describeWideMlp('wasm', setup);
