import { describe, expect, it } from 'vitest';
import { diffConfigs } from '@sluice/shared/fleet/diff';

const app = { type: 'file', id: 'app-logs', dataset: 'app_logs', include: ['/var/log/app/*.log'] };
const drop = { type: 'drop', id: 'inbox', dataset: 'orders', path: '/srv/drop' };

describe('diffConfigs', () => {
  it('is empty for equal configs whatever the key order', () => {
    expect(diffConfigs({ sources: [app] }, { sources: [{ ...app, include: [...app.include] }] })).toEqual([]);
    expect(diffConfigs({ a: 1, b: { c: 2 } }, { b: { c: 2 }, a: 1 })).toEqual([]);
  });

  it('matches sources by id: an inserted source is one addition, changes are named by id and path', () => {
    const before = { sources: [app, drop] };
    const after = { sources: [{ type: 'http-push', id: 'push', dataset: 'events' }, { ...app, include: ['/var/log/app/*.log', '/var/log/app/*.1'], startAt: 'end' }] };
    expect(diffConfigs(before, after)).toEqual([
      { op: 'added', path: 'sources[id=app-logs].include[1]', after: '/var/log/app/*.1' },
      { op: 'added', path: 'sources[id=app-logs].startAt', after: 'end' },
      { op: 'removed', path: 'sources[id=inbox]', before: drop },
      { op: 'added', path: 'sources[id=push]', after: { type: 'http-push', id: 'push', dataset: 'events' } },
    ]);
  });

  it('reports changed scalars with before and after, and a changed kind as one change', () => {
    expect(diffConfigs({ sources: [app] }, { sources: [{ ...app, dataset: 'logs', include: '/x' }] })).toEqual([
      { op: 'changed', path: 'sources[id=app-logs].dataset', before: 'app_logs', after: 'logs' },
      { op: 'changed', path: 'sources[id=app-logs].include', before: ['/var/log/app/*.log'], after: '/x' },
    ]);
  });

  it('compares arrays without unique ids by position', () => {
    expect(diffConfigs({ xs: [1, 2, 3] }, { xs: [1, 4] })).toEqual([
      { op: 'changed', path: 'xs[1]', before: 2, after: 4 },
      { op: 'removed', path: 'xs[2]', before: 3 },
    ]);
  });
});
