/**
 * Operator accounts. The username is the id (lower-cased); users are disabled, never deleted, so audit rows
 * keep pointing at someone. Every change takes the client of the caller's transaction, so the route writes
 * the change and its audit row together. The last enabled admin cannot be demoted or disabled: that would
 * leave nobody able to manage users.
 */
import type pg from 'pg';
import { ConflictError, InputError, NotFoundError } from '@sluice/shared/errors';
import { isRole, ROLES, type Role } from '../auth/api-keys.ts';
import { checkPasswordPolicy, hashPassword } from './passwords.ts';

const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

export interface UserView {
  username: string;
  role: Role;
  createdAt: string;
  updatedAt: string;
  disabledAt: string | null;
}

interface UserRow {
  username: string;
  role: Role;
  password_hash: string;
  created_at: Date;
  updated_at: Date;
  disabled_at: Date | null;
}

export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase();
}

export function checkUsername(username: string): string {
  const normalized = normalizeUsername(username);
  if (!USERNAME.test(normalized)) throw InputError('/username: 1-64 characters of a-z, 0-9 and . _ @ -, starting with a letter or digit');
  return normalized;
}

function checkRole(role: unknown): Role {
  if (!isRole(role)) throw InputError(`/role: must be one of ${ROLES.join(', ')}`);
  return role;
}

function view(row: UserRow): UserView {
  return {
    username: row.username,
    role: row.role,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    disabledAt: row.disabled_at?.toISOString() ?? null,
  };
}

export class UserStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(client: pg.ClientBase, input: { username: string; password: string; role: Role }): Promise<UserView> {
    const username = checkUsername(input.username);
    const role = checkRole(input.role);
    checkPasswordPolicy(input.password);
    const hash = await hashPassword(input.password);
    const inserted = await client.query<UserRow>(
      'INSERT INTO users (username, role, password_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING *',
      [username, role, hash],
    );
    const row = inserted.rows[0];
    if (!row) throw ConflictError(`user ${username} already exists`);
    return view(row);
  }

  async list(): Promise<UserView[]> {
    return (await this.#pool.query<UserRow>('SELECT * FROM users ORDER BY username')).rows.map(view);
  }

  /** The row locked for the caller's transaction; NotFoundError when there is none. */
  async lock(client: pg.ClientBase, username: string): Promise<UserView> {
    const row = (await client.query<UserRow>('SELECT * FROM users WHERE username = $1 FOR UPDATE', [normalizeUsername(username)])).rows[0];
    if (!row) throw NotFoundError(`no user ${normalizeUsername(username)}`);
    return view(row);
  }

  /** What login checks, or undefined for an unknown username. */
  async credentials(username: string): Promise<{ username: string; role: Role; passwordHash: string; disabled: boolean } | undefined> {
    const row = (await this.#pool.query<UserRow>('SELECT * FROM users WHERE username = $1', [normalizeUsername(username)])).rows[0];
    return row && { username: row.username, role: row.role, passwordHash: row.password_hash, disabled: row.disabled_at !== null };
  }

  /** The current role of an enabled user, undefined when unknown or disabled (a refresh re-reads it). */
  async activeRole(client: pg.ClientBase, username: string): Promise<Role | undefined> {
    const row = (await client.query<{ role: Role }>('SELECT role FROM users WHERE username = $1 AND disabled_at IS NULL', [username])).rows[0];
    return row?.role;
  }

  async update(client: pg.ClientBase, username: string, change: { role?: Role | undefined; password?: string | undefined }): Promise<{ before: UserView; after: UserView }> {
    const before = await this.lock(client, username);
    const role = change.role === undefined ? before.role : checkRole(change.role);
    if (change.password !== undefined) checkPasswordPolicy(change.password);
    if (before.role === 'admin' && role !== 'admin' && before.disabledAt === null) await this.#keepAnAdmin(client, before.username);
    const hash = change.password === undefined ? null : await hashPassword(change.password);
    const row = (
      await client.query<UserRow>('UPDATE users SET role = $2, password_hash = COALESCE($3, password_hash), updated_at = now() WHERE username = $1 RETURNING *', [
        before.username,
        role,
        hash,
      ])
    ).rows[0]!;
    return { before, after: view(row) };
  }

  async disable(client: pg.ClientBase, username: string): Promise<{ before: UserView; after: UserView }> {
    const before = await this.lock(client, username);
    if (before.disabledAt !== null) return { before, after: before };
    if (before.role === 'admin') await this.#keepAnAdmin(client, before.username);
    const row = (await client.query<UserRow>('UPDATE users SET disabled_at = now(), updated_at = now() WHERE username = $1 RETURNING *', [before.username])).rows[0]!;
    return { before, after: view(row) };
  }

  async #keepAnAdmin(client: pg.ClientBase, leaving: string): Promise<void> {
    // Locks the other admins' rows, so two admins demoting each other at once cannot both succeed.
    const others = await client.query("SELECT username FROM users WHERE role = 'admin' AND disabled_at IS NULL AND username <> $1 FOR UPDATE", [leaving]);
    if (others.rowCount === 0) throw ConflictError(`${leaving} is the last enabled admin; make another admin first`);
  }
}
