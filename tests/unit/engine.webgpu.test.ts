// Real WebGPU (Dawn on SwiftShader) in Node: the same checks as on cpu, on the tiny model only.
import { describeEngineOnFixture, describeWideMlp } from '../helpers/engineSuite';
import { useWebGPUInNode } from '../helpers/webgpuNode';

const setup = async () => {
  await useWebGPUInNode();
};
describeEngineOnFixture('webgpu', setup);
describeWideMlp('webgpu', setup);
