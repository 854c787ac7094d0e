// The gateway package, built by scripts/package-agent.sh and taken apart the way dpkg would: its control
// data, its file list with owners and modes, its systemd units checked by systemd-analyze, and the bundled
// agent run from the unpacked tree on the Node the package carries, shipping a drop folder to the real Kafka.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { readTopic } from '../../agent/test/support/topic-reader.ts';
import { FleetHarness } from './support/fleet-harness.ts';

const REPO = path.join(import.meta.dirname, '../..');
const AGENT_VERSION = (JSON.parse(readFileSync(path.join(REPO, 'agent/package.json'), 'utf8')) as { version: string }).version;
const DEB_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

const execFileAsync = promisify(execFile);
async function run(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(file, args, { maxBuffer: 16 * 1024 * 1024, ...(env ? { env } : {}) });
}
/** Like run, but an exit status other than 0 is an answer, not an exception. */
async function outcome(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await run(file, args, env)) };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** enroll.env the way systemd reads an EnvironmentFile: KEY=VALUE lines, # comments. */
function readEnvironmentFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) vars[match[1]!] = match[2]!;
  }
  return vars;
}

/** A unit's ExecStart as systemd runs it: `${VAR}` is one word, `$VAR` is split at whitespace. */
function execStartOf(unit: string, vars: Record<string, string>): string[] {
  const line = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  if (line === undefined) throw new Error('no ExecStart');
  return line.split(' ').flatMap((word) => {
    const braced = /^\$\{(\w+)\}$/.exec(word);
    if (braced) return [vars[braced[1]!] ?? ''];
    const bare = /^\$(\w+)$/.exec(word);
    return bare ? (vars[bare[1]!] ?? '').split(/\s+/).filter(Boolean) : [word];
  });
}

interface Entry {
  mode: string;
  owner: string;
  target?: string;
}
/** `dpkg-deb --contents` lines: `-rwxr-xr-x root/root 325 2026-12-02 06:19 ./opt/... [-> target]`. */
function parseContents(listing: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  for (const line of listing.split('\n').filter(Boolean)) {
    const match = /^(\S+) (\S+)\s+\d+ \S+ \S+ \.(\/\S*?)\/?(?: -> (\S+))?$/.exec(line);
    if (!match) throw new Error(`unexpected dpkg-deb --contents line: ${line}`);
    const [, mode = '', owner = '', file = '', target] = match;
    entries.set(file === '' ? '/' : file, { mode, owner, ...(target ? { target } : {}) });
  }
  return entries;
}

let work: string;
let deb: string;
let tree: string;
/** A clean environment: no NODE_PATH, no PATH entry to the repository's Node. */
let gatewayEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'sluice-package-'));
  // gzip: xz makes the package a third smaller but takes over a minute on two cores.
  deb = (await run('bash', [path.join(REPO, 'scripts/package-agent.sh'), '--out', work, '--compression', 'gzip'])).stdout.trim();
  tree = path.join(work, 'tree');
  await run('dpkg-deb', ['-x', deb, tree]);
  gatewayEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: work, SLUICE_LOG_LEVEL: 'warn' };
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the sluice-agent .deb', () => {
  it('is the agent version for this architecture, with its conffile and maintainer scripts', async () => {
    expect(path.basename(deb)).toBe(`sluice-agent_${AGENT_VERSION}_${DEB_ARCH[process.arch]}.deb`);
    const field = async (name: string) => (await run('dpkg-deb', ['--field', deb, name])).stdout.trim();
    expect(await field('Package')).toBe('sluice-agent');
    expect(await field('Version')).toBe(AGENT_VERSION);
    expect(await field('Architecture')).toBe(DEB_ARCH[process.arch]);
    expect(await field('Depends')).toMatch(/^libc6 \(>= 2\.\d+\), libstdc\+\+6, passwd$/);
    const info = (await run('dpkg-deb', ['--info', deb])).stdout;
    for (const member of ['control', 'conffiles', 'postinst', 'prerm', 'postrm']) expect(info).toContain(` ${member} `);
    const control = path.join(work, 'control');
    await run('dpkg-deb', ['--control', deb, control]);
    expect(readFileSync(path.join(control, 'conffiles'), 'utf8')).toBe('/etc/sluice-agent/agent.yaml\n');
    for (const script of ['postinst', 'prerm', 'postrm']) expect(statSync(path.join(control, script)).mode & 0o777).toBe(0o755);
  });

  it('holds the bundle, one native binary, the pinned Node and the units, all root-owned and not writable by others', async () => {
    const entries = parseContents((await run('dpkg-deb', ['--contents', deb])).stdout);
    const expected: Record<string, string> = {
      '/opt/sluice-agent/bin/sluice-agent': '-rwxr-xr-x',
      '/opt/sluice-agent/node/bin/node': '-rwxr-xr-x',
      '/opt/sluice-agent/lib/agent.mjs': '-rw-r--r--',
      '/opt/sluice-agent/build-info.json': '-rw-r--r--',
      '/opt/sluice-agent/lib/node_modules/better-sqlite3/package.json': '-rw-r--r--',
      '/etc/sluice-agent/agent.yaml': '-rw-r--r--',
      '/lib/systemd/system/sluice-agent.service': '-rw-r--r--',
      '/lib/systemd/system/sluice-agent-enroll.service': '-rw-r--r--',
      '/usr/share/doc/sluice-agent/install-gateway.md': '-rw-r--r--',
    };
    for (const [file, mode] of Object.entries(expected)) expect({ file, mode: entries.get(file)?.mode }).toEqual({ file, mode });
    expect(entries.get('/usr/bin/sluice-agent')).toEqual({ mode: 'lrwxrwxrwx', owner: 'root/root', target: '/opt/sluice-agent/bin/sluice-agent' });
    for (const [file, entry] of entries) {
      expect({ file, owner: entry.owner }).toEqual({ file, owner: 'root/root' });
      if (!entry.mode.startsWith('l')) expect({ file, writableByOthers: /^.{4}.w|^.{7}.w/.test(entry.mode) }).toEqual({ file, writableByOthers: false });
    }
    const files = [...entries.keys()];
    expect(files.filter((f) => f.endsWith('.node'))).toEqual([expect.stringMatching(/^\/opt\/sluice-agent\/lib\/node_modules\/better-sqlite3\/(prebuilds|build)\//)]);
    expect(new Set(files.filter((f) => f.includes('/node_modules/')).map((f) => f.split('/node_modules/')[1]?.split('/')[0]))).toEqual(new Set(['better-sqlite3']));
    // The data dir is the system user's, made by postinst and StateDirectory=, never shipped root-owned.
    expect(files.filter((f) => f.startsWith('/var/'))).toEqual([]);
  });

  it('records the Node it carries, which is the Node that built it', async () => {
    const info = JSON.parse(readFileSync(path.join(tree, 'opt/sluice-agent/build-info.json'), 'utf8')) as Record<string, string>;
    expect(info).toMatchObject({ agent: AGENT_VERSION, node: process.versions.node, arch: DEB_ARCH[process.arch] });
    expect((await run(path.join(tree, 'opt/sluice-agent/node/bin/node'), ['--version'])).stdout.trim()).toBe(`v${info.node}`);
  });

  it('has units that systemd-analyze verifies without a warning and rates OK for exposure', async () => {
    // verify checks that ExecStart's binary exists at its absolute path, and --root would move /bin/kill
    // and systemd's own targets too; so copies of the units point at the unpacked /opt instead.
    const units = path.join(work, 'units');
    mkdirSync(units);
    const copies = ['sluice-agent.service', 'sluice-agent-enroll.service'].map((name) => {
      const unit = readFileSync(path.join(tree, 'lib/systemd/system', name), 'utf8');
      writeFileSync(path.join(units, name), unit.replaceAll('/opt/sluice-agent/', `${tree}/opt/sluice-agent/`));
      return path.join(units, name);
    });
    expect(await outcome('systemd-analyze', ['verify', ...copies])).toEqual({ code: 0, stdout: '', stderr: '' });
    for (const unit of copies) {
      const security = await outcome('systemd-analyze', ['security', '--offline=true', '--threshold=20', unit]);
      const level = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(security.stdout);
      expect({ unit: path.basename(unit), code: security.code, rating: level?.[2] }).toEqual({ unit: path.basename(unit), code: 0, rating: 'OK' });
    }
  });
});

describe('the bundled agent, run from the unpacked package on its own Node', () => {
  it('validates the shipped fleet-managed config, also called through a symlink like /usr/bin/sluice-agent', async () => {
    const link = path.join(work, 'sluice-agent');
    symlinkSync(path.join(tree, 'opt/sluice-agent/bin/sluice-agent'), link);
    const result = await outcome(link, ['validate', '--config', path.join(tree, 'etc/sluice-agent/agent.yaml')], gatewayEnv);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining('agent.yaml: ok (0 sources') as string });
  });

  it('ships a drop folder to Kafka, then drains on SIGTERM and exits 0', async () => {
    const brokers = loadStackEnv().kafkaBrokers;
    const prefix = testTopicPrefix(`pkg_${Math.random().toString(36).slice(2, 8)}`);
    const gateway = path.join(work, 'gateway');
    const drop = path.join(gateway, 'drop');
    mkdirSync(drop, { recursive: true });
    const config = path.join(gateway, 'agent.yaml');
    writeFileSync(
      config,
      `agentId: pkg-gateway\ndataDir: ${gateway}/data\nkafka:\n  brokers: ${JSON.stringify(brokers)}\n  topicPrefix: "${prefix}"\n` +
        `http:\n  listen: 127.0.0.1:0\nallowedRoots: [${drop}]\n` +
        `sources:\n  - { type: drop, id: drop, dataset: readings, path: ${drop}, format: auto, completion: { stableMs: 300 } }\n`,
    );
    const agent = path.join(tree, 'opt/sluice-agent/bin/sluice-agent');
    expect(await outcome(agent, ['validate', '--config', config], gatewayEnv)).toMatchObject({ code: 0 });
    const rows = 2000;
    writeFileSync(path.join(drop, 'readings.ndjson'), Array.from({ length: rows }, (_, i) => `${JSON.stringify({ sensor: 'a', row: i })}\n`).join(''));

    const child = spawn(agent, ['run', '--config', config], { env: gatewayEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    // The drop source moves a file to done/ once Kafka acknowledged every record of it.
    await waitFor(() => existsSync(path.join(drop, 'done', 'readings.ndjson')), {
      timeoutMs: 60_000,
      what: 'the dropped file in done/',
      detail: () => `agent stderr: ${stderr}`,
    }).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    const messages = await readTopic(brokers, `${prefix}readings`, (m) => new Set(m.map((x) => x.key)).size >= rows, 60_000);
    expect(new Set(messages.map((m) => m.key)).size).toBe(rows);
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(stderr).toBe('');
  });
});

describe('the packaged agent in a fleet', () => {
  it('enrolls with the enroll unit\'s own command and enroll.env, then runs the pipeline its policy assigns', async () => {
    const fleet = await FleetHarness.start({ name: 'pkg' });
    try {
      const etc = path.join(work, 'fleet-etc');
      const drop = path.join(work, 'fleet-drop');
      mkdirSync(etc);
      mkdirSync(drop);
      const dataset = `pkg_${fleet.id}`;
      await fleet.createDataset(dataset);
      await fleet.api.createPolicy('gateways', { site: 'pkg' });
      const revision = await fleet.api.publish('gateways', { sources: [{ type: 'drop', id: 'drop', dataset, path: drop, completion: { stableMs: 300 } }] }, 'gateway drop folder');
      const token = await fleet.api.createEnrollmentToken({ labels: { site: 'pkg' }, maxUses: 1 });
      // The shipped agent.yaml with this machine's Kafka and folders: local settings only, no agentId.
      const shipped = readFileSync(path.join(tree, 'etc/sluice-agent/agent.yaml'), 'utf8');
      writeFileSync(
        path.join(etc, 'agent.yaml'),
        shipped
          .replace('dataDir: /var/lib/sluice-agent', `dataDir: ${path.join(work, 'fleet-data')}`)
          .replace(/brokers: .*/, `brokers: ${JSON.stringify(fleet.stack.kafkaBrokers)}\n  topicPrefix: "${fleet.topicPrefix}"`)
          .replace('listen: 127.0.0.1:8686', 'listen: 127.0.0.1:0')
          .replace('allowedRoots: []', `allowedRoots: [${drop}]`),
      );
      const example = readFileSync(path.join(tree, 'usr/share/doc/sluice-agent/enroll.env.example'), 'utf8');
      const enrollEnv = readEnvironmentFile(
        example
          .replace(/^SLUICE_ENROLL_URL=.*$/m, `SLUICE_ENROLL_URL=${fleet.url}`)
          .replace(/^SLUICE_ENROLL_TOKEN=.*$/m, `SLUICE_ENROLL_TOKEN=${token}`)
          .replace(/^SLUICE_ENROLL_OPTIONS=.*$/m, 'SLUICE_ENROLL_OPTIONS=--name gateway-pkg'),
      );
      const unit = readFileSync(path.join(tree, 'lib/systemd/system/sluice-agent-enroll.service'), 'utf8');
      const [command = '', ...args] = execStartOf(unit.replaceAll('/opt/sluice-agent/', `${tree}/opt/sluice-agent/`).replaceAll('/etc/sluice-agent/', `${etc}/`), enrollEnv);
      const enrolled = await outcome(command, args, { ...gatewayEnv, ...enrollEnv });
      expect(enrolled).toMatchObject({ code: 0, stdout: expect.stringMatching(/^enrolled as gateway-pkg-[0-9a-f]{6} /) as string });
      const identityFile = path.join(work, 'fleet-data', 'fleet', 'identity.json');
      expect(statSync(identityFile).mode & 0o777).toBe(0o600);
      const agentId = (JSON.parse(readFileSync(identityFile, 'utf8')) as { agentId: string }).agentId;

      const child = spawn(command, ['run', '--config', path.join(etc, 'agent.yaml')], { env: gatewayEnv, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      try {
        await fleet.untilApplied([agentId], revision.hash, 60_000);
        writeFileSync(path.join(drop, 'batch.ndjson'), Array.from({ length: 500 }, (_, i) => `${JSON.stringify({ row: i })}\n`).join(''));
        await waitFor(() => existsSync(path.join(drop, 'done', 'batch.ndjson')), { timeoutMs: 60_000, what: 'the dropped file in done/', detail: () => `agent stderr: ${stderr}` });
        const messages = await readTopic(fleet.stack.kafkaBrokers, `${fleet.topicPrefix}${dataset}`, (m) => new Set(m.map((x) => x.key)).size >= 500, 60_000);
        expect(new Set(messages.map((m) => m.key)).size).toBe(500);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toEqual({ code: 0, signal: null });
    } finally {
      await fleet.close();
    }
  });
});
