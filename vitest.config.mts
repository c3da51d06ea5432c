import { defineConfig } from 'vitest/config';
import { LongestFirst } from './test/setup/sequencer.js';

// Two cores on CI: two workers, and generous timeouts because tests drive real qemu-img and QEMU.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    globalSetup: ['test/setup/build.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // Longest files first, so no long one is left to run alone at the end (see the sequencer).
    sequence: { sequencer: LongestFirst },
  },
});
