import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'tests/**/*.test.tsx'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two cores here: WebGPU (SwiftShader) and Chromium tests are CPU-heavy, so run files one at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});
