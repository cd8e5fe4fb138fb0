import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Real sockets and child processes: give slow machines room, but never retry.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
