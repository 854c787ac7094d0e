/**
 * kill -9 of a real agent process (the CLI) while it reads a dropped CSV, twice, then a clean run: the topic
 * holds every row, and any duplicate (a batch sent but not yet deleted from the outbox at the kill) carries
 * the same record id. The file reaches done/ exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { topicForDataset } from '@sluice/shared/envelope';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { TEST_TOPIC_PREFIX } from '@sluice/shared/node/testing/test-resources';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { readTopic } from './support/topic-reader.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const brokers = loadStackEnv().kafkaBrokers;
const CLI = fileURLToPath(new URL('../bin/sluice-agent.js', import.meta.url));
const children: ChildProcess[] = [];
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function runAgent(config: string): ChildProcess {
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });
  children.push(child);
  return child;
}

/** The drop source's progress checkpoint for the file, read from the outbox the killed agent left behind. */
function progress(db: string, sha: string): string {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const rows = conn.prepare('SELECT key, value FROM checkpoints WHERE key IN (?, ?)').all(`file:${sha}`, `drop:${sha}`) as { key: string; value: string }[];
    return rows.map((r) => `${r.key.split(':')[0]}=${r.key.startsWith('file') ? r.value : (JSON.parse(r.value) as { state: string }).state}`).join(',') || 'none';
  } finally {
    conn.close();
  }
}

describe('drop source under kill -9', () => {
  it('every row of a 150k-row CSV arrives, duplicates only with the same id', async () => {
    const work = await mkdtemp(join(tmpdir(), 'sluice-drop-kill-'));
    cleanup.push(() => rm(work, { recursive: true, force: true }));
    const dataset = `drop_kill_${randomBytes(4).toString('hex')}`;
    await mkdir(join(work, 'drop'));
    const configFile = join(work, 'agent.yaml');
    await writeFile(
      configFile,
      `agentId: kill-agent
dataDir: ./data
kafka: { brokers: [${brokers.join(', ')}], topicPrefix: "${TEST_TOPIC_PREFIX}" }
http: { listen: '127.0.0.1:0' }
allowedRoots: [${work}]
sources:
  - { type: drop, id: drop, dataset: ${dataset}, path: ./drop, completion: { stableMs: 200 } }
`,
    );
    const rows = 150_000;
    const lines = ['id,payload'];
    for (let i = 0; i < rows; i++) lines.push(i % 10_000 === 99 ? `${i},"broken` : `${i},${'x'.repeat(40)}`);
    const csv = lines.join('\n') + '\n';
    const sha = createHash('sha256').update(csv).digest('hex');
    await writeFile(join(work, 'drop', 'big.csv'), csv);

    const seen: string[] = [];
    for (const delayMs of [1500 + Math.random() * 1500, 2500 + Math.random() * 2500]) {
      const child = runAgent(configFile);
      await sleep(delayMs);
      child.kill('SIGKILL');
      await once(child, 'exit');
      const db = join(work, 'data', 'outbox.db');
      seen.push(existsSync(db) ? progress(db, sha) : 'no outbox yet');
    }
    const last = runAgent(configFile);
    let stderr = '';
    last.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor(async () => (await readdir(join(work, 'drop', 'done'))).includes('big.csv'), 170_000, `big.csv in done/ (${stderr.slice(-500)})`);
    last.kill('SIGTERM');
    await once(last, 'exit');

    const keys = new Set<string | undefined>();
    const messages = await readTopic(
      brokers,
      topicForDataset(dataset, TEST_TOPIC_PREFIX),
      (m) => {
        // Incremental: the predicate runs after every message.
        for (let i = keys.size === 0 ? 0 : m.length - 1; i < m.length; i++) keys.add(m[i]?.key);
        return keys.size >= rows;
      },
      170_000,
    );
    const byId = new Map<string, Set<string>>();
    for (const m of messages) {
      const envelope = readWireEnvelope(m.key, m.value, m.headers);
      expect(m.key).toBe(envelope.id);
      const copies = byId.get(envelope.id) ?? new Set<string>();
      copies.add(JSON.stringify([envelope.payload, envelope.parseError]));
      byId.set(envelope.id, copies);
    }
    expect(byId.size).toBe(rows);
    // The same id always carries the same row.
    expect([...byId.values()].every((copies) => copies.size === 1)).toBe(true);
    const ids = [...byId.keys()].map((id) => Number(id.split(':').at(-1))).sort((a, b) => a - b);
    expect(ids[0]).toBe(0);
    expect(ids.at(-1)).toBe(rows - 1);
    // The 15 broken rows are reported beside the file, counted across the kills (rows before a resume point too).
    expect((await readdir(join(work, 'drop', 'done'))).sort()).toEqual(['big.csv', 'big.csv.report.json']);
    const report = JSON.parse(await readFile(join(work, 'drop', 'done', 'big.csv.report.json'), 'utf8')) as { rows: number; failed: number };
    expect(report).toMatchObject({ rows: rows, failed: rows / 10_000 });
    // Where the kills landed (for the report when this is read by a human): file=<rows> means mid-file.
    console.log(JSON.stringify({ killedAt: seen, messages: messages.length, distinct: byId.size }));
  }, 560_000);
});
