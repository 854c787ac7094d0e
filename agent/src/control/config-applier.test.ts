import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { validatePipeline } from '@sluice/shared/agent-config/validate';
import { configHash } from '@sluice/shared/node/config-hash';
import { parseConfig, type LoadedConfig } from '../config/load-config.ts';
import type { ReloadResult, SourceReport } from '../runtime/agent.ts';
import { ConfigApplier, type ApplyReport, type ApplyTarget } from './config-applier.ts';
import { readLastGood } from './last-good.ts';

/** An agent stand-in: reload records the sources asked for; the test decides how each one does. */
class FakeAgent implements ApplyTarget {
  readonly reloads: string[][] = [];
  readonly startErrors = new Map<string, string>();
  readonly proven = new Set<string>();
  #sources: string[] = [];

  reload(next: LoadedConfig): Promise<ReloadResult> {
    this.#sources = next.config.sources.map((s) => s.id);
    this.reloads.push(this.#sources);
    const failed = this.#sources.filter((id) => this.startErrors.has(id)).map((id) => ({ id, reason: this.startErrors.get(id)! }));
    return Promise.resolve({ started: this.#sources, stopped: [], unchanged: [], failed });
  }

  sourceReports(): SourceReport[] {
    return this.#sources.map((id) => ({
      id,
      type: 'file',
      dataset: 'app_logs',
      state: this.startErrors.has(id) ? 'failed' : 'running',
      proven: this.proven.has(id),
      caughtUp: this.proven.has(id),
      ...(this.startErrors.has(id) ? { startError: this.startErrors.get(id)! } : {}),
    }));
  }
}

function setup(applyTimeoutMs = 2000): { applier: ConfigApplier; agent: FakeAgent; states: ApplyReport[]; dataDir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-applier-'));
  mkdirSync(path.join(dir, 'logs'));
  const config = parseConfig('kafka: { brokers: ["127.0.0.1:9092"] }\nallowedRoots: [./logs]\n', dir);
  const local: LoadedConfig = { config: { ...config, agentId: 'gw-1-abcdef' }, baseDir: dir, file: path.join(dir, 'agent.yaml') };
  const agent = new FakeAgent();
  const states: ApplyReport[] = [];
  const dataDir = path.join(dir, 'data');
  const applier = new ConfigApplier({
    target: agent,
    local,
    dataDir,
    applyTimeoutMs,
    pollMs: 10,
    log: createLogger('applier-test', { level: 'silent' }),
    onChange: (report) => states.push(report),
    env: { LOG_DIR: path.join(dir, 'logs') },
  });
  return { applier, agent, states, dataDir };
}

function pipeline(...ids: string[]): { hash: string; config: unknown } {
  const checked = validatePipeline({ sources: ids.map((id) => ({ type: 'file', id, dataset: 'app_logs', include: ['${env:LOG_DIR}/*.log'] })) });
  if (!checked.ok) throw new Error('bad test pipeline');
  return { hash: configHash(checked.value), config: checked.value };
}

const rev = (number: number): { policy: string; number: number } => ({ policy: 'edge', number });

describe('ConfigApplier', () => {
  it('reports applied only once every source has proven it works, then keeps it as the last good', async () => {
    const { applier, agent, states, dataDir } = setup();
    const p = pipeline('a', 'b');
    const done = applier.desire(p.hash, rev(1), p.config);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(applier.report()).toMatchObject({ state: 'applying', hash: p.hash });
    agent.proven.add('a');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(applier.report().state).toBe('applying'); // b has neither committed nor scanned yet
    agent.proven.add('b');
    await done;
    expect(states.map((s) => s.state)).toEqual(['applying', 'applied']);
    expect(applier.running()).toEqual({ hash: p.hash, revision: rev(1) });
    expect(readLastGood(dataDir).lastGood).toEqual({ revision: rev(1), hash: p.hash, config: p.config });
    expect(statSync(path.join(dataDir, 'fleet', 'last-good.json')).mode & 0o777).toBe(0o600);
    // ${env:…} is substituted in what runs, never in what is stored and hashed.
    expect(JSON.stringify(readLastGood(dataDir).lastGood)).toContain('${env:LOG_DIR}');
  });

  it('a source that cannot start: failed, then back to the last good and rolled-back with the reason', async () => {
    const { applier, agent, states } = setup();
    const good = pipeline('a');
    agent.proven.add('a');
    await applier.desire(good.hash, rev(1), good.config);
    const bad = pipeline('a', 'broken');
    agent.startErrors.set('broken', 'EACCES: permission denied');
    await applier.desire(bad.hash, rev(2), bad.config);
    expect(states.map((s) => s.state)).toEqual(['applying', 'applied', 'applying', 'failed', 'rolled-back']);
    expect(applier.report()).toMatchObject({ state: 'rolled-back', hash: bad.hash, reason: expect.stringContaining('sources.broken: failed to start: EACCES') as unknown });
    expect(agent.reloads).toEqual([['a'], ['a', 'broken'], ['a']]);
    expect(applier.running()).toEqual({ hash: good.hash, revision: rev(1) });
    // The same revision again (every check-in carries it while it is desired) is not retried.
    await applier.desire(bad.hash, rev(2), bad.config);
    expect(agent.reloads).toHaveLength(3);
  });

  it('the answer to its own `failed` report (the same revision, no config) does not make it try the failed config again', async () => {
    const { applier, agent } = setup();
    const good = pipeline('a');
    agent.proven.add('a');
    await applier.desire(good.hash, rev(1), good.config);
    const bad = pipeline('a', 'broken');
    agent.startErrors.set('broken', 'EEXIST');
    // While `failed` is reported the broken config still runs, and the control plane still wants it.
    const failing = applier.desire(bad.hash, rev(2), bad.config);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await applier.desire(bad.hash, rev(2), undefined);
    await failing;
    await applier.desire(bad.hash, rev(2), bad.config);
    expect(agent.reloads).toEqual([['a'], ['a', 'broken'], ['a']]);
    // Asked for the good one again (a rollback) and then for the broken one: that is a new attempt.
    await applier.desire(good.hash, rev(3), good.config);
    expect(applier.running()).toEqual({ hash: good.hash, revision: rev(3) });
    await applier.desire(bad.hash, rev(4), bad.config);
    expect(agent.reloads).toHaveLength(5);
  });

  it('a source that never commits or finishes a scan within the timeout fails the apply; with no last good it runs nothing', async () => {
    const { applier, agent } = setup(300);
    const p = pipeline('silent');
    await applier.desire(p.hash, rev(1), p.config);
    expect(applier.report()).toMatchObject({ state: 'rolled-back', hash: p.hash, reason: expect.stringMatching(/sources\.silent is running, nothing committed or scanned yet/) as unknown });
    expect(agent.reloads).toEqual([['silent'], []]);
    expect(applier.running()).toEqual({ hash: null, revision: null });
  });

  it('a pipeline invalid on this agent (a folder outside allowedRoots) fails without touching the running sources', async () => {
    const { applier, agent, states } = setup();
    const checked = validatePipeline({ sources: [{ type: 'file', id: 'etc', dataset: 'app_logs', include: ['/etc/*.conf'] }] });
    if (!checked.ok) throw new Error('bad test pipeline');
    await applier.desire(configHash(checked.value), rev(3), checked.value);
    expect(states.map((s) => s.state)).toEqual(['applying', 'failed', 'rolled-back']);
    expect(applier.report().reason).toMatch(/sources\[0\]\.include\[0\]: must be inside an allowed folder/);
    expect(agent.reloads).toEqual([]);
  });

  it('starts on the last good and adopts it honestly', async () => {
    const { applier, agent, dataDir } = setup();
    const p = pipeline('a');
    agent.proven.add('a');
    await applier.desire(p.hash, rev(1), p.config);
    const restarted = setup();
    restarted.agent.proven.add('a');
    const initial = restarted.applier.initial(readLastGood(dataDir).lastGood);
    expect(initial.config.sources.map((s) => s.id)).toEqual(['a']);
    expect(restarted.applier.report()).toMatchObject({ state: 'applying', hash: p.hash });
    await restarted.agent.reload(initial);
    await restarted.applier.adoptInitial();
    expect(restarted.applier.report()).toMatchObject({ state: 'applied', hash: p.hash });
    expect(restarted.applier.running()).toEqual({ hash: p.hash, revision: rev(1) });
  });
});
