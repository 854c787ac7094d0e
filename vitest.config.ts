import { defineConfig } from 'vitest/config';

// Two projects: `unit` (no services; in-memory sinks, fake timers) and `integration` (*.int.test.ts, real
// engines from the local stack). Integration files run one at a time: they share one Kafka, one PostgreSQL...
// on a 2-core machine, and each isolates itself by its own topic / schema / bucket / index.
const ignored = ['**/node_modules/**', '**/.tsbuild/**', '**/.stack/**', '**/dist/**', '**/out/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts', '**/*.test.tsx'],
          exclude: [...ignored, '**/*.int.test.ts', '**/*.e2e.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts', '**/*.e2e.test.ts'],
          exclude: ignored,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          // The local stack's addresses into process.env (the services read only the environment), then
          // deletes the topics, schemas and indices each file registered (shared/node/testing/test-resources.ts).
          setupFiles: ['shared/node/testing/stack-env-setup.ts', 'shared/node/testing/test-cleanup.ts'],
        },
      },
    ],
  },
});
