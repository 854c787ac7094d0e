/**
 * `npm test` must leave nothing an `npm start` consumer would load: runs two integration files the way the
 * suite does (a child vitest, its own SLUICE_TEST_RUN so its topics are told apart from other runs on this
 * stack), then checks that a consumer following the default prefix would see none of the topics they
 * made, and that none of them is left at all.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPIC_PREFIX } from '@sluice/shared/envelope';
import { listTopics } from '@sluice/shared/node/kafka';
import { loadStackEnv } from '@sluice/shared/node/stack-env';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const brokers = loadStackEnv().kafkaBrokers;
// One agent file (source → outbox → Kafka) and one control-plane file (Kafka → consumer → PostgreSQL + DLQ).
const SUITE_FILES = ['agent/test/http-push-source.int.test.ts', 'control-plane/test/consumer-dlq.int.test.ts'];

describe('test isolation in the shared stack', () => {
  it('leaves no topic behind, and none a default-prefix consumer would subscribe to', async () => {
    const run = `iso${randomBytes(3).toString('hex')}`;
    const before = new Set(await listTopics(brokers));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
    const seen = new Set<string>();
    // Sampled while the files run: the topics they make, before their cleanup removes them.
    const sampler = setInterval(() => void listTopics(brokers).then((all) => all.forEach((t) => seen.add(t)), () => undefined), 500);
    try {
      await promisify(execFile)(process.execPath, [VITEST, 'run', '--project', 'integration', ...SUITE_FILES], {
        cwd: ROOT,
        env: { ...env, SLUICE_TEST_RUN: run, SLUICE_LOG_LEVEL: 'error' },
        maxBuffer: 16 * 1024 * 1024,
      });
    } finally {
      clearInterval(sampler);
    }
    const after = await listTopics(brokers);
    const made = [...seen, ...after].filter((t) => !before.has(t));
    // The sampling did see the files' topics, so the checks below are not vacuous.
    expect(made.some((t) => t.startsWith(`sluice-test.${run}.`))).toBe(true);
    // What a consumer with the default prefix subscribes to: every `sluice.*` topic (the DLQ it only writes).
    expect([...new Set(made)].filter((t) => t.startsWith(DEFAULT_TOPIC_PREFIX))).toEqual([]);
    expect(after.filter((t) => t.startsWith(`sluice-test.${run}.`))).toEqual([]);
  });
});
