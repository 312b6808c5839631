// Beam search on cpu and wasm against Hugging Face (every fixture case), with its events.
import { setupNodeBackend } from '../../src/backend/node';
import { describeBeamSearch } from '../helpers/beamSuite';

for (const backend of ['cpu', 'wasm'] as const) describeBeamSearch(backend, async () => void (await setupNodeBackend(backend)));
