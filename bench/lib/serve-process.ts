/**
 * A real `sluice-control-plane serve` (or `consume`) process for a benchmark: its own port, state and data schemas, topic
 * prefix and bootstrap admin key, the local stack's addresses for the rest. Killed when the bench exits, even
 * by a crash; `output()` keeps its last 8000 characters for the error that says why it did not come up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { StackEnv } from '@sluice/shared/node/stack-env';
import { freePort } from '@sluice/shared/node/testing/processes';

const ROOT = path.join(import.meta.dirname, '../..');

export interface ServeSettings {
  stack: StackEnv;
  stateSchema: string;
  dataSchema: string;
  topicPrefix: string;
  adminKey: string;
  /** Node flags before the script (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
  /** `serve` (default) or `consume` (a consumer process of the same state, listening on a free metrics port). */
  command?: 'serve' | 'consume';
  /** More environment (e.g. SLUICE_CONSUMER_GROUP). */
  env?: Readonly<Record<string, string>>;
}

export interface ServeProcess {
  child: ChildProcess;
  baseUrl: string;
  output(): string;
}

export async function startServe(s: ServeSettings): Promise<ServeProcess> {
  const port = await freePort();
  let output = '';
  const child = spawn(
    process.execPath,
    [...(s.nodeArgs ?? []), path.join(ROOT, 'control-plane/bin/sluice-control-plane.js'), s.command ?? 'serve'],
    {
      cwd: ROOT,
      env: {
        ...s.stack.raw,
        ...process.env,
        SLUICE_HTTP_PORT: String(port),
        SLUICE_CONSUMER_METRICS_PORT: String(port),
        SLUICE_STATE_SCHEMA: s.stateSchema,
        SLUICE_DATA_SCHEMA: s.dataSchema,
        SLUICE_TOPIC_PREFIX: s.topicPrefix,
        SLUICE_DLQ_TOPIC: `${s.topicPrefix}dlq`,
        SLUICE_ADMIN_KEY: s.adminKey,
        SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn',
        ...s.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // Also when the bench itself crashes: the control plane must not outlive it.
  process.once('exit', () => child.kill('SIGTERM'));
  const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-8000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { child, baseUrl: `http://127.0.0.1:${String(port)}`, output: () => output };
}
