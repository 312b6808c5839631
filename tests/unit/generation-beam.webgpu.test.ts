// Beam search on real WebGPU (Dawn on SwiftShader: slow, so two fixture cases): the fused path's cache reordered each step.
import { describeBeamSearch } from '../helpers/beamSuite';
import { useWebGPUInNode } from '../helpers/webgpuNode';

describeBeamSearch(
  'webgpu',
  async () => void (await useWebGPUInNode()),
  (c) => c.settings.num_beams === 3 || c.settings.eos_token_id === 1158,
);
