/**
 * Setup file of the integration project (vitest.config.ts): after each test file, removes what its tests
 * registered in test-resources.ts, so `npm test` leaves no topics, schemas or indices in the local stack.
 */
import { afterAll } from 'vitest';
import { removeOwned } from './test-resources.ts';

afterAll(async () => {
  const problems = await removeOwned();
  // Reported, not failed: a leftover is untidy, never a wrong result of the file's tests.
  if (problems.length > 0) process.stderr.write(`test cleanup left something behind:\n  ${problems.join('\n  ')}\n`);
}, 60_000);
