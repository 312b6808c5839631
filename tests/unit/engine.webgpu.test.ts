// Real WebGPU (Dawn on SwiftShader) in Node: the same checks as on cpu, on the tiny model only.
import { describeEngineOnFixture } from '../helpers/engineSuite';
import { useWebGPUInNode } from '../helpers/webgpuNode';

describeEngineOnFixture('webgpu', async () => {
  await useWebGPUInNode();
});
