/**
 * What `npm start` does to make its local agent fleet-managed and its console usable, every step idempotent
 * (a second start changes nothing):
 *   0. with --console-login FILE: the console's first login, an admin user `admin` whose generated password is
 *      kept in FILE (0600), never printed (ensureConsoleUser below);
 *   1. policy `default` (empty label selector: every agent) with deploy/policies/default.yaml as its first
 *      revision, which every agent gets — only when the policy has no revision yet, so an operator's later
 *      revisions and rollouts are never overwritten;
 *   2. unless the agent's data dir already holds an identity: a one-use enrollment token (10 minutes) and
 *      `sluice-agent enroll` with it.
 * The admin key comes from the environment (SLUICE_ADMIN_KEY) and the token goes to the enroll process
 * through its environment; neither is printed nor put on a command line.
 *
 * usage: node scripts/fleet-bootstrap.ts --url URL --config agent.yaml --policy default.yaml [--name N] [--console-login FILE]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

export class Api {
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

export const CONSOLE_USER = 'admin';

/** The login file's text: what to type into the console's login form. */
export function consoleLoginText(password: string): string {
  return `# The Sluice console's first login, made by npm start (docs/console.md).\nusername: ${CONSOLE_USER}\npassword: ${password}\n`;
}

function passwordIn(file: string): string {
  const found = /^password: (.+)$/m.exec(readFileSync(file, 'utf8'));
  if (!found?.[1]) throw new Error(`${file} holds no "password: …" line; delete it and start again to make a new password`);
  return found[1];
}

/**
 * The console's first login: user `admin` (role admin), its password generated once and kept in `loginFile`
 * (0600), never printed or logged, so it ends up in no scrollback. The file is written before the user is
 * made, so a password the control plane accepted is never lost; a control plane whose state was reset gets the
 * user again with the same password. A user `admin` that exists without the file is left alone: its password
 * is someone's, not ours to reset.
 */
export async function ensureConsoleUser(api: Api, loginFile: string): Promise<string> {
  const users = await api.call<{ users: Array<{ username: string; disabledAt: string | null }> }>('GET', '/api/v1/users');
  const existing = users.body.users.find((u) => u.username === CONSOLE_USER);
  if (existing && existsSync(loginFile)) {
    return existing.disabledAt === null ? `console login: user ${CONSOLE_USER}, password in ${loginFile}` : `console user ${CONSOLE_USER} is disabled; log in as another admin`;
  }
  if (existing) {
    return `console user ${CONSOLE_USER} exists, but ${loginFile} is gone: log in with the password you set, or reset it (PATCH /api/v1/users/${CONSOLE_USER} with the admin key)`;
  }
  if (existsSync(loginFile)) {
    await api.call('POST', '/api/v1/users', { username: CONSOLE_USER, password: passwordIn(loginFile), role: 'admin' });
    return `console user ${CONSOLE_USER} made again (the control plane's state is new); password in ${loginFile}`;
  }
  const pending = `${loginFile}.new`;
  // Left over by an interrupted start: its password was never accepted. `wx` makes the file anew, mode 0600.
  rmSync(pending, { force: true });
  writeFileSync(pending, consoleLoginText(randomBytes(18).toString('base64url')), { mode: 0o600, flag: 'wx' });
  try {
    await api.call('POST', '/api/v1/users', { username: CONSOLE_USER, password: passwordIn(pending), role: 'admin' });
  } catch (error) {
    rmSync(pending, { force: true });
    throw error;
  }
  renameSync(pending, loginFile);
  return `console user ${CONSOLE_USER} (admin) created; its password is in ${loginFile}`;
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
  const { values } = parseArgs({ options: { url: { type: 'string' }, config: { type: 'string' }, policy: { type: 'string' }, name: { type: 'string' }, 'console-login': { type: 'string' } } });
  const key = process.env.SLUICE_ADMIN_KEY;
  if (!values.url || !values.config || !values.policy || !key) {
    process.stderr.write('usage: SLUICE_ADMIN_KEY=… node scripts/fleet-bootstrap.ts --url URL --config agent.yaml --policy default.yaml [--name N] [--console-login FILE]\n');
    return 2;
  }
  const api = new Api(values.url, key);
  const configFile = resolve(values.config);
  const loginFile = values['console-login'];
  if (loginFile !== undefined) process.stdout.write(`${await ensureConsoleUser(api, resolve(loginFile))}\n`);
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
