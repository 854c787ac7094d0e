/**
 * `sluice-control-plane users create --username U (--admin | --role R) [--password-file F]`: makes the first
 * admin on a fresh install (nobody can log in to make one over REST yet), and any user from a shell. The
 * password comes from the file or stdin, never from argv (argv is visible to every local user in ps); only
 * the username and role are printed.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { isRole, ROLES, type Role } from '../auth/api-keys.ts';
import { withTransaction } from '../db/transaction.ts';
import { recordAudit } from './audit.ts';
import { UserStore } from './user-store.ts';

export const USERS_USAGE = 'sluice-control-plane users create --username NAME (--admin | --role viewer|operator|admin) [--password-file FILE]  (password on stdin otherwise)';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One trailing newline is the shell's (echo, a file's last line), not the password's. */
function withoutNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

export function parseUsersArgs(args: string[]): { username: string; role: Role; passwordFile: string | undefined } {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new Error(`usage: ${USERS_USAGE}`);
  const { values } = parseArgs({ args: rest, options: { username: { type: 'string' }, role: { type: 'string' }, admin: { type: 'boolean' }, 'password-file': { type: 'string' } } });
  if (values.username === undefined) throw new Error(`--username is required\nusage: ${USERS_USAGE}`);
  if (values.admin === true && values.role !== undefined && values.role !== 'admin') throw new Error('--admin and --role disagree');
  const role = values.admin === true ? 'admin' : values.role;
  if (!isRole(role)) throw new Error(`--role must be one of ${ROLES.join(', ')} (or --admin)\nusage: ${USERS_USAGE}`);
  return { username: values.username, role, passwordFile: values['password-file'] };
}

export async function usersCommand(args: string[], pool: pg.Pool): Promise<{ username: string; role: Role }> {
  const parsed = parseUsersArgs(args);
  const password = withoutNewline(parsed.passwordFile === undefined ? await readStdin() : await readFile(parsed.passwordFile, 'utf8'));
  const users = new UserStore(pool);
  const user = await withTransaction(pool, async (client) => {
    const created = await users.create(client, { username: parsed.username, password, role: parsed.role });
    await recordAudit(client, { actor: { kind: 'system', id: 'cli' }, action: 'user.create', target: { kind: 'user', id: created.username }, after: created });
    return created;
  });
  return { username: user.username, role: user.role };
}
