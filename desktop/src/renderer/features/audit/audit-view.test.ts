import { describe, expect, it } from 'vitest';
import { actorText, auditQueryOf, entryChanges, NO_AUDIT_FILTER } from './audit-view.ts';

describe('audit view', () => {
  it('turns the filter form into the API query', () => {
    expect(auditQueryOf(NO_AUDIT_FILTER)).toEqual({ ok: true, query: { limit: 50 } });
    const from = '2026-12-01T10:00';
    expect(auditQueryOf({ actor: ' olga ', action: 'user.*', target: 'dataset:meters', from, to: '' }, 10)).toEqual({
      ok: true,
      query: { limit: 10, actor: 'olga', action: 'user.*', targetKind: 'dataset', targetId: 'meters', from: new Date(from).toISOString() },
    });
    expect(auditQueryOf({ ...NO_AUDIT_FILTER, target: 'policy' })).toEqual({ ok: true, query: { limit: 50, targetKind: 'policy' } });
    expect(auditQueryOf({ ...NO_AUDIT_FILTER, target: 'policy:' })).toEqual({ ok: true, query: { limit: 50, targetKind: 'policy' } });
  });

  it('says what is wrong with a filter instead of sending it', () => {
    expect(auditQueryOf({ ...NO_AUDIT_FILTER, action: 'user*', target: ':x', from: '2026-12-02T10:00', to: '2026-12-01T10:00' })).toEqual({
      ok: false,
      problems: ['Action: an exact action (user.create) or a prefix ending in .* (user.*)', 'Target: a kind (dataset) or kind:id (dataset:meters)', 'To must be later than From'],
    });
    expect(auditQueryOf({ ...NO_AUDIT_FILTER, from: 'yesterday' })).toEqual({ ok: false, problems: ['From: not a date and time'] });
  });

  it('names actors and shows a change path by path, a creation as every field added', () => {
    expect(actorText({ kind: 'apiKey', id: 'k1', name: 'ci' })).toBe('ci (API key k1)');
    expect(actorText({ kind: 'user', id: 'olga', name: 'olga' })).toBe('olga (user)');
    expect(actorText({ kind: 'system', id: 'control-plane', name: null })).toBe('control-plane (system)');
    expect(entryChanges({ before: { labels: { site: 'a' } }, after: { labels: { site: 'b', rack: '1' } } })).toEqual([
      { op: 'added', path: 'labels.rack', after: '1' },
      { op: 'changed', path: 'labels.site', before: 'a', after: 'b' },
    ]);
    expect(entryChanges({ before: null, after: { role: 'viewer' } })).toEqual([{ op: 'added', path: 'role', after: 'viewer' }]);
    expect(entryChanges({ before: null, after: null })).toEqual([]);
    expect(entryChanges({ before: 'active', after: 'revoked' })).toEqual([{ op: 'changed', path: '(root)', before: 'active', after: 'revoked' }]);
  });
});
