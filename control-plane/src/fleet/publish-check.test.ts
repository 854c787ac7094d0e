import { describe, expect, it } from 'vitest';
import { globBase, insideRoot, referenceProblems } from './publish-check.ts';

describe('publish-time references', () => {
  it('takes the folder a glob can match under, and compares folders lexically by whole segments', () => {
    expect(globBase('/var/log/app/*.log')).toBe('/var/log/app');
    expect(globBase('/var/log/**/x.log')).toBe('/var/log');
    expect(globBase('/var/log/app/current.log')).toBe('/var/log/app');
    expect(globBase('/*.log')).toBe('/');
    expect(insideRoot('/var/log/app', '/var/log')).toBe(true);
    expect(insideRoot('/var/log', '/var/log/')).toBe(true);
    expect(insideRoot('/var/logs', '/var/log')).toBe(false);
    expect(insideRoot('/var/log/../../etc', '/var/log')).toBe(false);
    expect(insideRoot('/etc', '/')).toBe(true);
  });

  it('names each unregistered dataset and each folder outside an agent’s roots; agents never seen are not checked', () => {
    const pipeline = {
      sources: [
        { type: 'file' as const, id: 'a', dataset: 'app', include: ['/var/log/app/*.log'], exclude: [], startAt: 'beginning' as const, format: 'text' as const, maxLineBytes: 1, encoding: 'utf8' as const },
        { type: 'drop' as const, id: 'd', dataset: 'orders', path: '/srv/drop' },
      ],
    } as never;
    const problems = referenceProblems(pipeline, new Set(['app']), [
      { id: 'gw-1', allowedRoots: ['/var/log'] },
      { id: 'gw-2', allowedRoots: [] },
      { id: 'gw-3', allowedRoots: null },
    ]);
    expect(problems).toEqual([
      { path: 'sources[1].dataset', reason: 'dataset orders is not registered (POST /api/v1/datasets first)' },
      { path: 'sources[0].include[0]', reason: '/var/log/app is outside the allowedRoots of agent gw-2 (none)' },
      { path: 'sources[1].path', reason: '/srv/drop is outside the allowedRoots of agent gw-1 (/var/log), gw-2 (none)' },
    ]);
  });
});
