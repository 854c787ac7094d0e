/**
 * Reading the audit log: newest first, filtered, paged by a cursor (the last row's id), so a page never
 * skips or repeats a row while new ones are appended at the top. The cursor is opaque to clients.
 */
import type pg from 'pg';
import { InputError } from '@sluice/shared/errors';

export interface AuditFilter {
  actor?: string | undefined;
  /** Exact (`user.create`) or a prefix ending in `.*` (`user.*`). */
  action?: string | undefined;
  targetKind?: string | undefined;
  targetId?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface AuditEntryView {
  id: string;
  at: string;
  actor: { kind: string; id: string; name: string | null };
  action: string;
  target: { kind: string; id: string };
  before: unknown;
  after: unknown;
  requestId: string | null;
}

interface AuditRow {
  id: string;
  at: Date;
  actor_kind: string;
  actor_id: string;
  actor_name: string | null;
  action: string;
  target_kind: string;
  target_id: string;
  before: unknown;
  after: unknown;
  request_id: string | null;
}

const DEFAULT_LIMIT = 50;

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{1,19}$/.test(id)) throw InputError('/cursor: not a cursor this API returned');
  return id;
}

function time(value: string, field: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw InputError(`/${field}: not a date-time`);
  return date;
}

export async function queryAudit(pool: pg.Pool, filter: AuditFilter): Promise<{ entries: AuditEntryView[]; nextCursor: string | null }> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown): void => {
    values.push(value);
    where.push(sql.replace('?', `$${values.length}`));
  };
  if (filter.actor !== undefined) add('actor_id = ?', filter.actor);
  if (filter.action !== undefined) {
    if (filter.action.endsWith('.*')) add("action LIKE ? ESCAPE '\\'", `${filter.action.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    else add('action = ?', filter.action);
  }
  if (filter.targetKind !== undefined) add('target_kind = ?', filter.targetKind);
  if (filter.targetId !== undefined) add('target_id = ?', filter.targetId);
  if (filter.from !== undefined) add('at >= ?', time(filter.from, 'from'));
  if (filter.to !== undefined) add('at < ?', time(filter.to, 'to'));
  if (filter.cursor !== undefined) add('id < ?', decodeCursor(filter.cursor));
  const limit = filter.limit ?? DEFAULT_LIMIT;
  values.push(limit + 1);
  const rows = (
    await pool.query<AuditRow>(`SELECT * FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${values.length}`, values)
  ).rows;
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    entries: page.map((r) => ({
      id: String(r.id),
      at: r.at.toISOString(),
      actor: { kind: r.actor_kind, id: r.actor_id, name: r.actor_name },
      action: r.action,
      target: { kind: r.target_kind, id: r.target_id },
      before: r.before,
      after: r.after,
      requestId: r.request_id,
    })),
    nextCursor: rows.length > limit && last ? Buffer.from(String(last.id), 'utf8').toString('base64url') : null,
  };
}
