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
    // A test polls what it reads off the screen (expect.poll) as long as Playwright waits for an
    // element by default (30 s): a loaded 2-core machine can take more than poll's default second.
    expect: { poll: { timeout: 30_000 } },
    reporters: ['default'],
    // Longest files first, so no long one is left to run alone at the end (see the sequencer).
    sequence: { sequencer: LongestFirst },
  },
});
