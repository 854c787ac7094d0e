/**
 * What `npm start` does to make its local agent fleet-managed, every step idempotent (a second start changes
 * nothing):
 *   1. policy `default` (empty label selector: every agent) with deploy/policies/default.yaml as its first
 *      revision, which every agent gets — only when the policy has no revision yet, so an operator's later
 *      revisions and rollouts are never overwritten;
 *   2. unless the agent's data dir already holds an identity: a one-use enrollment token (10 minutes) and
 *      `sluice-agent enroll` with it.
 * The admin key comes from the environment (SLUICE_ADMIN_KEY) and the token goes to the enroll process
 * through its environment; neither is printed nor put on a command line.
 *
 * usage: node scripts/fleet-bootstrap.ts --url URL --config agent.yaml --policy default.yaml [--name N]
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const POLICY = 'default';

interface Source {
  type: string;
  include?: string[];
  path?: string;
  doneDir?: string;
  failedDir?: string;
  [key: string]: unknown;
}

class Api {
  readonly #url: string;
  readonly #key: string;

  constructor(url: string, key: string) {
    this.#url = url;
    this.#key = key;
  }

  /** The answer's body; a status outside `ok` ends the bootstrap with the control plane's own message. */
  async call<T>(method: string, path: string, body?: unknown, ok: number[] = [200, 201]): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.#url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!ok.includes(res.status)) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }
}

/**
 * The policy file's sources with their folders and include patterns made absolute against `baseDir` (the
 * local agent's config folder, which the agent itself resolves relative paths against); `exclude` patterns
 * are left as they are.
 */
export function resolvePolicySources(sources: Source[], baseDir: string): Source[] {
  const abs = (p: string): string => resolve(baseDir, p);
  return sources.map((source) => {
    const out: Source = { ...source };
    if (source.include) out.include = source.include.map(abs);
    for (const key of ['path', 'doneDir', 'failedDir'] as const) {
      const value = source[key];
      if (typeof value === 'string') out[key] = abs(value);
    }
    return out;
  });
}

async function ensurePolicy(api: Api, policyFile: string, baseDir: string): Promise<string> {
  const existing = await api.call<unknown>('GET', `/api/v1/policies/${POLICY}`, undefined, [200, 404]);
  if (existing.status === 404) {
    await api.call('POST', '/api/v1/policies', { name: POLICY, description: 'Every agent, unless a more specific policy selects it (npm start)', selector: { labels: {} }, priority: 0 });
  }
  const revisions = await api.call<{ items?: unknown[] }>('GET', `/api/v1/policies/${POLICY}/revisions`);
  if ((revisions.body.items ?? []).length > 0) return `policy ${POLICY} has its revisions already; left as it is`;
  const file = parse(readFileSync(policyFile, 'utf8')) as { sources?: Source[] };
  const config = { sources: resolvePolicySources(file.sources ?? [], baseDir) };
  const published = await api.call<{ number: number; hash: string }>('POST', `/api/v1/policies/${POLICY}/revisions`, { config, message: `${policyFile} (npm start)` });
  // A policy's first revision is its current one at once; should it not be, it goes to all agents now.
  const policy = await api.call<{ currentRevision: number | null }>('GET', `/api/v1/policies/${POLICY}`);
  if (policy.body.currentRevision !== published.body.number) {
    await api.call('POST', `/api/v1/policies/${POLICY}/rollouts`, { revision: published.body.number, strategy: { kind: 'all' } });
  }
  return `policy ${POLICY}: revision ${published.body.number} published; every agent gets it`;
}

function dataDirOf(configFile: string): string {
  const config = parse(readFileSync(configFile, 'utf8')) as { dataDir?: string };
  return resolve(dirname(configFile), config.dataDir ?? './data');
}

async function ensureEnrolled(api: Api, url: string, configFile: string, name: string): Promise<string> {
  const identityFile = join(dataDirOf(configFile), 'fleet', 'identity.json');
  if (existsSync(identityFile)) {
    const { agentId } = JSON.parse(readFileSync(identityFile, 'utf8')) as { agentId: string };
    return `local agent already enrolled as ${agentId}`;
  }
  const { body } = await api.call<{ token: string }>('POST', '/api/v1/enrollment-tokens', { name: `npm start: ${name}`, maxUses: 1, expiresInSeconds: 600, labels: { env: 'local' } });
  try {
    await promisify(execFile)(process.execPath, [join(ROOT, 'agent/bin/sluice-agent.js'), 'enroll', '--config', configFile, '--url', url, '--name', name], {
      env: { ...process.env, SLUICE_ENROLL_TOKEN: body.token },
      timeout: 30_000,
    });
  } catch (error) {
    const failed = error as Error & { stderr?: string };
    throw new Error(`sluice-agent enroll failed: ${failed.stderr?.trim() || failed.message}`, { cause: error });
  }
  const { agentId } = JSON.parse(readFileSync(identityFile, 'utf8')) as { agentId: string };
  return `local agent enrolled as ${agentId}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { url: { type: 'string' }, config: { type: 'string' }, policy: { type: 'string' }, name: { type: 'string' } } });
  const key = process.env.SLUICE_ADMIN_KEY;
  if (!values.url || !values.config || !values.policy || !key) {
    process.stderr.write('usage: SLUICE_ADMIN_KEY=… node scripts/fleet-bootstrap.ts --url URL --config agent.yaml --policy default.yaml [--name N]\n');
    return 2;
  }
  const api = new Api(values.url, key);
  const configFile = resolve(values.config);
  process.stdout.write(`${await ensurePolicy(api, resolve(values.policy), dirname(configFile))}\n`);
  process.stdout.write(`${await ensureEnrolled(api, values.url, configFile, values.name ?? 'local-dev')}\n`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`fleet bootstrap: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
