/**
 * What integration tests create in the shared local stack, named so that nothing else picks it up and
 * removed after each test file. Every Kafka topic a test makes starts with TEST_TOPIC_PREFIX, never with
 * the default `sluice.`, so the consumer `npm start` runs never subscribes to one (it follows `sluice.*`).
 * Tests register what they own here; the integration project's setup file (test-cleanup.ts) removes it
 * after each file, also when a test failed half-way. Only what was registered is removed: other runs on
 * the same stack keep theirs.
 */
import { deleteTopics, listTopics } from '@sluice/shared/node/kafka';
import { loadStackEnv } from '@sluice/shared/node/stack-env';

const RUN = process.env.SLUICE_TEST_RUN;
if (RUN !== undefined && !/^[a-z0-9_-]{1,40}$/.test(RUN)) throw new Error(`SLUICE_TEST_RUN must match [a-z0-9_-]{1,40}, got ${JSON.stringify(RUN)}`);

/** The root of every test topic (with SLUICE_TEST_RUN set, `sluice-test.<run>.`: one run's topics apart). */
export const TEST_TOPIC_PREFIX = RUN === undefined ? 'sluice-test.' : `sluice-test.${RUN}.`;

const owned = { topicPrefixes: new Set<string>(), topics: new Set<string>(), pgSchemas: new Set<string>(), searchIndices: new Set<string>() };

/** A topic prefix of the test's own (`<TEST_TOPIC_PREFIX><name>.`); its topics are deleted after the file. */
export function testTopicPrefix(name: string): string {
  const prefix = `${TEST_TOPIC_PREFIX}${name}.`;
  owned.topicPrefixes.add(prefix);
  return prefix;
}

/** Registers topics a test made (or that an agent under test made for it) for deletion after the file. */
export function ownTopics(...topics: string[]): void {
  for (const topic of topics) owned.topics.add(topic);
}

/** Registers PostgreSQL schemas (state or data) for `DROP SCHEMA ... CASCADE` after the file. */
export function ownSchemas(...schemas: string[]): void {
  for (const schema of schemas) owned.pgSchemas.add(schema);
}

/** Registers search indices or index patterns (`name-*`) and their template for deletion after the file. */
export function ownSearchIndices(...patterns: string[]): void {
  for (const pattern of patterns) owned.searchIndices.add(pattern);
}

/** Removes everything registered so far; what fails to go is reported, not thrown, so every kind is tried. */
export async function removeOwned(): Promise<string[]> {
  const stack = loadStackEnv();
  const problems: string[] = [];
  const note = (what: string) => (error: unknown) => void problems.push(`${what}: ${(error as Error).message}`);
  if (owned.topicPrefixes.size > 0 || owned.topics.size > 0) {
    const prefixes = [...owned.topicPrefixes];
    const topics = await listTopics(stack.kafkaBrokers).then(
      (all) => all.filter((t) => owned.topics.has(t) || prefixes.some((p) => t.startsWith(p))),
      (error: unknown) => (note('listing topics')(error), []),
    );
    if (topics.length > 0) await deleteTopics(stack.kafkaBrokers, topics).catch(note(`deleting ${topics.length} topics`));
  }
  if (owned.pgSchemas.size > 0) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: stack.pgUrl });
    try {
      await client.connect();
      for (const schema of owned.pgSchemas) await client.query(`DROP SCHEMA IF EXISTS "${schema.replaceAll('"', '')}" CASCADE`).catch(note(`schema ${schema}`));
    } catch (error) {
      note('PostgreSQL')(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  for (const pattern of owned.searchIndices) {
    await fetch(`${stack.searchUrl}/${encodeURIComponent(pattern).replaceAll('%2A', '*')}?ignore_unavailable=true`, { method: 'DELETE' }).catch(note(`index ${pattern}`));
    await fetch(`${stack.searchUrl}/_index_template/${encodeURIComponent(pattern.replace(/-\*$/, ''))}`, { method: 'DELETE' }).catch(() => undefined);
  }
  for (const set of Object.values(owned)) set.clear();
  return problems;
}
