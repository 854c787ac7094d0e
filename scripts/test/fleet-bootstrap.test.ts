// `npm start`'s fleet set-up promises: the default policy is today's example pipeline, it is a valid policy,
// the fleet-managed local YAML is enrollable (local settings only), and every path the policy reads is
// inside the folders the local agent allows once npm start has made them absolute.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateAgentConfig, validatePipeline } from '@sluice/shared/agent-config/validate';
import { resolvePolicySources } from '../fleet-bootstrap.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string): Record<string, unknown> => parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>;
const standalone = read('agent/examples/agent.yaml');
const policy = read('deploy/policies/default.yaml') as { sources: Array<Record<string, unknown>> };
const fleetLocal = read('agent/examples/fleet-agent.yaml');
const configDir = join(ROOT, 'agent/examples');

describe('npm start fleet set-up', () => {
  it('publishes the standalone example pipeline as the default policy', () => {
    expect(policy).toEqual({ sources: standalone.sources });
    const checked = validatePipeline(policy);
    expect(checked.ok ? [] : checked.problems).toEqual([]);
  });

  it('runs a local agent YAML with the same local settings, no agent id and no sources', () => {
    const { sources: _sources, agentId: _agentId, dataDir: _dataDir, ...local } = standalone;
    const { dataDir, ...fleetOwn } = fleetLocal;
    expect(fleetOwn).toEqual(local);
    expect(fleetLocal).not.toHaveProperty('sources');
    expect(fleetLocal).not.toHaveProperty('agentId');
    // Its own data dir: the standalone agent's outbox and checkpoints are another agent's.
    expect(dataDir).not.toBe(standalone.dataDir);
    const checked = validateAgentConfig({ ...fleetLocal, http: { ...(fleetLocal.http as object), token: 'a-test-token-123' } });
    expect(checked.ok ? [] : checked.problems).toEqual([]);
  });

  it('resolves the policy paths against the local config folder, inside its allowedRoots', () => {
    const resolved = resolvePolicySources(policy.sources as never, configDir);
    expect(resolved.map((s) => s.include ?? s.path)).toEqual([[join(ROOT, 'logs/*.log'), join(ROOT, 'logs/*.log.[0-9]')], join(ROOT, 'drop')]);
    const roots = (fleetLocal.allowedRoots as string[]).map((r) => join(configDir, r));
    const inside = (p: string): boolean => roots.some((root) => !relative(root, p).startsWith('..'));
    // A drop source's folder, a file source's glob base (the patterns only have wildcards in the name).
    const folders = resolved.flatMap((s) => (s.path !== undefined ? [s.path] : (s.include ?? []).map((glob) => dirname(glob))));
    for (const folder of folders) expect(inside(folder), folder).toBe(true);
    // Everything but the paths is the file's own.
    expect(resolved.map(({ include: _i, path: _p, ...rest }) => rest)).toEqual(policy.sources.map(({ include: _i, path: _p, ...rest }) => rest));
  });
});

describe('docker-compose fleet set-up', () => {
  const composeAgent = read('deploy/agent/agent.yaml');
  const composeLocal = read('deploy/agent/fleet-agent.yaml');
  const composePolicy = read('deploy/agent/compose-policy.yaml') as { sources: Array<Record<string, unknown>> };

  it('publishes the standalone compose agent pipeline, a valid policy, to the fleet-managed compose agent', () => {
    expect(composePolicy).toEqual({ sources: composeAgent.sources });
    const checked = validatePipeline(composePolicy);
    expect(checked.ok ? [] : checked.problems).toEqual([]);
    const { sources: _sources, agentId: _agentId, ...local } = composeAgent;
    expect(composeLocal).toEqual(local);
    const agent = validateAgentConfig({ ...composeLocal, http: { ...(composeLocal.http as object), token: 'a-test-token-123' } });
    expect(agent.ok ? [] : agent.problems).toEqual([]);
  });

  it('reads only inside the compose agent allowedRoots', () => {
    const roots = composeLocal.allowedRoots as string[];
    for (const source of composePolicy.sources) {
      const where = String(source.path);
      expect(roots.some((root) => !relative(root, where).startsWith('..')), where).toBe(true);
    }
  });
});
