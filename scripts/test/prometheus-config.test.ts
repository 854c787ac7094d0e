import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadStackEnv } from '@sluice/shared/node/stack-env';

// Both Sluice endpoints want credentials for /metrics: Prometheus sends a Bearer credential read from a file
// (never inline in the config), natively from .sluice/ where `npm start` writes them, in compose from secrets.
interface ScrapeConfig {
  job_name: string;
  authorization?: { type?: string; credentials?: string; credentials_file?: string };
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const jobs = (file: string): Map<string, ScrapeConfig> =>
  new Map((parse(readFileSync(file, 'utf8')) as { scrape_configs: ScrapeConfig[] }).scrape_configs.map((c) => [c.job_name, c]));
const promtool = ((): string | undefined => {
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();

describe('Prometheus scrape credentials', () => {
  it.each([
    ['deploy/prometheus/prometheus.yml', '../../.sluice/prometheus.key', '../../.sluice/agent.token'],
    ['deploy/prometheus/prometheus.compose.yml', '/run/secrets/sluice-metrics-key', '/run/secrets/sluice-agent-token'],
  ])('%s sends a Bearer credential file to the control plane, the consumer and the agent', (file, controlPlane, agent) => {
    const config = jobs(join(ROOT, file));
    expect(config.get('sluice-control-plane')?.authorization).toEqual({ type: 'Bearer', credentials_file: controlPlane });
    // The consumer authenticates with the control plane's API keys, so the same viewer key serves both.
    expect(config.get('sluice-consumer')?.authorization).toEqual({ type: 'Bearer', credentials_file: controlPlane });
    expect(config.get('sluice-agent')?.authorization).toEqual({ type: 'Bearer', credentials_file: agent });
  });

  it('renders the native stack copy with absolute paths into the run folder, which promtool accepts', async () => {
    const stackDir = mkdtempSync(join(tmpdir(), 'sluice-prom-stack-'));
    const runDir = mkdtempSync(join(tmpdir(), 'sluice-prom-run-'));
    writeFileSync(join(runDir, 'prometheus.key'), 'slk_test', { mode: 0o600 });
    writeFileSync(join(runDir, 'agent.token'), 'sat_test', { mode: 0o600 });
    const script = 'source scripts/stack/lib.sh; source scripts/stack/prometheus.sh; prometheus_render_config';
    await run('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: ROOT,
      env: { ...process.env, ...loadStackEnv({}).raw, SLUICE_ROOT: ROOT, STACK_DIR: stackDir, SLUICE_RUN_DIR: runDir },
    });
    const rendered = join(stackDir, 'prometheus', 'prometheus.yml');
    const config = jobs(rendered);
    expect(config.get('sluice-control-plane')?.authorization?.credentials_file).toBe(join(runDir, 'prometheus.key'));
    expect(config.get('sluice-consumer')?.authorization?.credentials_file).toBe(join(runDir, 'prometheus.key'));
    expect(config.get('sluice-agent')?.authorization?.credentials_file).toBe(join(runDir, 'agent.token'));
    if (promtool) {
      // Without --syntax-only promtool also checks that the credential files exist.
      const { stdout } = await run(promtool, ['check', 'config', rendered]);
      expect(stdout).toContain('SUCCESS');
    }
  });

  it('has `up` re-render a running Prometheus config and reload it only when it changed', async () => {
    const stackDir = mkdtempSync(join(tmpdir(), 'sluice-prom-stack-'));
    const runDir = mkdtempSync(join(tmpdir(), 'sluice-prom-run-'));
    // A stand-in for the running Prometheus: a live pid (this process) and an HTTP server counting reloads.
    mkdirSync(join(stackDir, 'prometheus'));
    writeFileSync(join(stackDir, 'prometheus', 'prometheus.pid'), `${process.pid}\n`);
    writeFileSync(join(stackDir, 'prometheus', 'prometheus.yml'), 'old config\n');
    const reloads: string[] = [];
    const server = createServer((req, res) => {
      reloads.push(`${req.method} ${req.url}`);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const prometheusUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const refresh = (): Promise<unknown> =>
      run('bash', ['-euo', 'pipefail', '-c', 'source scripts/stack/lib.sh; source scripts/stack/prometheus.sh; prometheus_refresh'], {
        cwd: ROOT,
        env: { ...process.env, ...loadStackEnv({}).raw, SLUICE_PROMETHEUS_URL: prometheusUrl, SLUICE_ROOT: ROOT, STACK_DIR: stackDir, SLUICE_RUN_DIR: runDir },
      });
    try {
      await refresh();
      expect(reloads).toEqual(['POST /-/reload']);
      await refresh();
      expect(reloads).toHaveLength(1);
    } finally {
      server.close();
    }
  });

  it.skipIf(!promtool)('promtool accepts both configs', async () => {
    for (const file of ['deploy/prometheus/prometheus.yml', 'deploy/prometheus/prometheus.compose.yml']) {
      const { stdout } = await run(promtool!, ['check', 'config', '--syntax-only', join(ROOT, file)]);
      expect(stdout, file).toContain('SUCCESS');
    }
  });
});
