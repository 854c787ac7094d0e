// The gateway package's systemd units keep their sandbox: a directive dropped or loosened in an edit fails
// here, before any package is built. systemd-analyze checks them for real in agent-package.int.test.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { agentConfigSchema } from '@sluice/shared/agent-config/index';

const DEPLOY = path.join(import.meta.dirname, '../../deploy/agent');
const DATA_DIR = '/var/lib/sluice-agent';

/** `[Section]` -> directive -> its values in order (a directive may repeat; `Key=` alone is an empty value). */
function readUnit(name: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of readFileSync(path.join(DEPLOY, 'systemd', name), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 1) throw new Error(`${name}: not a directive: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

/** What both units must say, whatever else they do: the agent's own user and nothing more than it needs. */
const SANDBOX: Record<string, string> = {
  User: 'sluice-agent',
  Group: 'sluice-agent',
  ProtectSystem: 'strict',
  ReadWritePaths: DATA_DIR,
  StateDirectory: 'sluice-agent',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  PrivateDevices: 'yes',
  NoNewPrivileges: 'yes',
  CapabilityBoundingSet: '',
  AmbientCapabilities: '',
  RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
  SystemCallFilter: '@system-service',
  RestrictSUIDSGID: 'yes',
  RestrictNamespaces: 'yes',
  UMask: '0077',
};

describe.each(['sluice-agent.service', 'sluice-agent-enroll.service'])('%s', (name) => {
  const service = readUnit(name).get('Service')!;

  it('runs sandboxed as the sluice-agent user, writing only its data dir', () => {
    const declared = Object.fromEntries(Object.keys(SANDBOX).map((key) => [key, service.get(key)]));
    expect(declared).toEqual(Object.fromEntries(Object.entries(SANDBOX).map(([key, value]) => [key, [value]])));
  });

  it('leaves MemoryDenyWriteExecute unset: V8 compiles code into writable memory and runs it', () => {
    expect(service.has('MemoryDenyWriteExecute')).toBe(false);
  });
});

describe('sluice-agent.service', () => {
  const unit = readUnit('sluice-agent.service');
  const service = unit.get('Service')!;

  it('runs the packaged agent on /etc/sluice-agent/agent.yaml, restarts on failure, reloads on SIGHUP', () => {
    expect(service.get('ExecStart')).toEqual(['/opt/sluice-agent/bin/sluice-agent run --config /etc/sluice-agent/agent.yaml']);
    expect(service.get('Restart')).toEqual(['on-failure']);
    expect(service.get('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(service.get('KillSignal')).toEqual(['SIGTERM']);
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('waits longer for a stop than the agent drains its outbox', () => {
    const seconds = /^(\d+)s$/.exec(service.get('TimeoutStopSec')?.[0] ?? '');
    expect(seconds).not.toBeNull();
    const drainMs = agentConfigSchema.properties.shipper.properties.drainTimeoutMs.default;
    expect(Number(seconds![1]) * 1000).toBeGreaterThanOrEqual(drainMs * 2);
  });

  it('comes after the first-boot enrollment, without depending on it', () => {
    expect(unit.get('Unit')?.get('After')?.join(' ')).toContain('sluice-agent-enroll.service');
    expect(unit.get('Unit')?.get('Wants')?.join(' ')).toContain('sluice-agent-enroll.service');
    expect(unit.get('Unit')?.has('Requires')).toBe(false);
  });

  it('keeps its data where the shipped agent.yaml puts it', () => {
    const config = parse(readFileSync(path.join(DEPLOY, 'gateway/agent.yaml'), 'utf8')) as { dataDir: string; sources?: unknown };
    expect(config.dataDir).toBe(DATA_DIR);
    // Fleet-managed: the control plane hands it its sources.
    expect(config.sources).toBeUndefined();
  });
});

describe('sluice-agent-enroll.service', () => {
  const unit = readUnit('sluice-agent-enroll.service');
  const service = unit.get('Service')!;

  it('runs once per device: only with enroll.env and only while there is no identity', () => {
    expect(unit.get('Unit')?.get('ConditionPathExists')).toEqual(['/etc/sluice-agent/enroll.env', `!${DATA_DIR}/fleet/identity.json`]);
    expect(unit.get('Unit')?.get('Before')).toEqual(['sluice-agent.service']);
    expect(service.get('Type')).toEqual(['oneshot']);
    expect(service.get('EnvironmentFile')).toEqual(['/etc/sluice-agent/enroll.env']);
    expect(service.get('ExecStart')?.[0]).toMatch(/^\/opt\/sluice-agent\/bin\/sluice-agent enroll --config \/etc\/sluice-agent\/agent.yaml --url \$\{SLUICE_ENROLL_URL\} /);
  });

  it('keeps the token off the command line: enroll reads SLUICE_ENROLL_TOKEN from the environment file', () => {
    expect(service.get('ExecStart')?.[0]).not.toMatch(/--token|TOKEN/);
    expect(readFileSync(path.join(DEPLOY, 'gateway/enroll.env.example'), 'utf8')).toMatch(/^SLUICE_ENROLL_TOKEN=/m);
  });

  it('documents every variable it reads in the shipped example', () => {
    const example = readFileSync(path.join(DEPLOY, 'gateway/enroll.env.example'), 'utf8');
    const used = [...(service.get('ExecStart')?.[0] ?? '').matchAll(/\$\{?(\w+)\}?/g)].map((m) => m[1]);
    for (const variable of used) expect(example).toMatch(new RegExp(`^${variable}=`, 'm'));
  });
});
