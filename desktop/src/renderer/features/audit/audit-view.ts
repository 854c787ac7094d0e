/**
 * What the audit screen shows, as pure functions: the filter form turned into the API's query (or the
 * reasons it cannot be), who an actor is in words, and an entry's before/after as the paths that changed.
 */
import { diffConfigs, type ConfigChange } from '@sluice/shared/fleet/diff';
import type { AuditEntry, AuditQuery } from '../../api/audit.ts';

export const AUDIT_PAGE_SIZE = 50;

/** The form as typed: `target` is a kind (`dataset`) or kind:id (`dataset:meters`); times are datetime-local. */
export interface AuditFilter {
  actor: string;
  action: string;
  target: string;
  from: string;
  to: string;
}

export const NO_AUDIT_FILTER: AuditFilter = { actor: '', action: '', target: '', from: '', to: '' };

export type AuditFilterQuery = { ok: true; query: AuditQuery } | { ok: false; problems: string[] };

/** A datetime-local value (the browser's local time) as an instant. */
function instant(value: string, label: string, problems: string[]): string | undefined {
  if (value.trim() === '') return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) {
    problems.push(`${label}: not a date and time`);
    return undefined;
  }
  return at.toISOString();
}

export function auditQueryOf(filter: AuditFilter, limit = AUDIT_PAGE_SIZE): AuditFilterQuery {
  const problems: string[] = [];
  const query: AuditQuery = { limit };
  const actor = filter.actor.trim();
  const action = filter.action.trim();
  const target = filter.target.trim();
  if (actor) query.actor = actor;
  if (action) {
    if (action.includes('*') && !/^[^*]+\.\*$/.test(action)) problems.push('Action: an exact action (user.create) or a prefix ending in .* (user.*)');
    query.action = action;
  }
  if (target) {
    const colon = target.indexOf(':');
    query.targetKind = colon < 0 ? target : target.slice(0, colon);
    if (colon >= 0 && target.slice(colon + 1) !== '') query.targetId = target.slice(colon + 1);
    if (query.targetKind === '') problems.push('Target: a kind (dataset) or kind:id (dataset:meters)');
  }
  const from = instant(filter.from, 'From', problems);
  const to = instant(filter.to, 'To', problems);
  if (from) query.from = from;
  if (to) query.to = to;
  if (from && to && from >= to) problems.push('To must be later than From');
  return problems.length > 0 ? { ok: false, problems } : { ok: true, query };
}

export function actorText(actor: AuditEntry['actor']): string {
  const kind = { user: 'user', apiKey: 'API key', agent: 'agent', system: 'system' }[actor.kind];
  return actor.name && actor.name !== actor.id ? `${actor.name} (${kind} ${actor.id})` : `${actor.id} (${kind})`;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The entry's change path by path (the diff the policy screen uses). A created thing has no `before`, a
 * removed one no `after`: their fields are then all added, or all removed.
 */
export function entryChanges(entry: Pick<AuditEntry, 'before' | 'after'>): ConfigChange[] {
  const before = entry.before ?? null;
  const after = entry.after ?? null;
  if ((before === null || isObject(before)) && (after === null || isObject(after))) return diffConfigs(before ?? {}, after ?? {});
  return diffConfigs(before, after);
}
