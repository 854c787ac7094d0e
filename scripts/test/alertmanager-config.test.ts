import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadStackEnv } from '@sluice/shared/node/stack-env';

// Alertmanager's route: every alert to one webhook, by default the control plane's receiver with the viewer
// key (a file, never inline), or SLUICE_ALERT_WEBHOOK_URL without that key; Prometheus points at it.
interface AlertmanagerConfig {
  route: { receiver: string; group_by: string[] };
  receivers: Array<{ name: string; webhook_configs: Array<{ url: string; send_resolved?: boolean; http_config?: { authorization?: { type?: string; credentials_file?: string } } }> }>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const amtool = ((): string | undefined => {
  try {
    return execFileSync('sh', ['-c', 'command -v amtool'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();
const read = (file: string) => parse(readFileSync(file, 'utf8')) as AlertmanagerConfig;
const defaults = loadStackEnv({});

async function render(extra: Record<string, string>): Promise<{ file: string; runDir: string }> {
  const stackDir = mkdtempSync(join(tmpdir(), 'sluice-am-stack-'));
  const runDir = mkdtempSync(join(tmpdir(), 'sluice-am-run-'));
  writeFileSync(join(runDir, 'prometheus.key'), 'slk_test', { mode: 0o600 });
  await run('bash', ['-euo', 'pipefail', '-c', 'source scripts/stack/lib.sh; source scripts/stack/alertmanager.sh; alertmanager_render_config'], {
    cwd: ROOT,
    env: { ...process.env, ...defaults.raw, SLUICE_ROOT: ROOT, STACK_DIR: stackDir, SLUICE_RUN_DIR: runDir, SLUICE_ALERT_WEBHOOK_URL: '', ...extra },
  });
  return { file: join(stackDir, 'alertmanager', 'alertmanager.yml'), runDir };
}

async function check(file: string): Promise<void> {
  if (!amtool) return;
  const { stdout } = await run(amtool, ['check-config', file]);
  expect(stdout).toContain('SUCCESS');
}

describe('Alertmanager config', () => {
  it('renders the native copy: the control plane receiver with the viewer key from the run folder', async () => {
    const { file, runDir } = await render({});
    const config = read(file);
    expect(config.route).toMatchObject({ receiver: 'sluice-webhook', group_by: ['alertname', 'dataset', 'series'] });
    expect(config.receivers[0]?.webhook_configs).toEqual([
      { url: `${defaults.controlPlaneUrl}/api/v1/alerts/webhook`, send_resolved: true, http_config: { authorization: { type: 'Bearer', credentials_file: join(runDir, 'prometheus.key') } } },
    ]);
    await check(file);
  });

  it('sends every alert to SLUICE_ALERT_WEBHOOK_URL instead, without the control plane key', async () => {
    const { file } = await render({ SLUICE_ALERT_WEBHOOK_URL: 'https://hooks.example.com/sluice?token=a&team=data#x' });
    expect(read(file).receivers[0]?.webhook_configs).toEqual([{ url: 'https://hooks.example.com/sluice?token=a&team=data#x', send_resolved: true }]);
    expect(readFileSync(file, 'utf8')).not.toContain('credentials_file');
    await check(file);
  });

  it('compose: the same route, the key from the compose secret; both Prometheus configs send alerts to it', async () => {
    const compose = read(join(ROOT, 'deploy/alertmanager/alertmanager.compose.yml'));
    expect(compose.route).toEqual(read(join(ROOT, 'deploy/alertmanager/alertmanager.yml')).route);
    expect(compose.receivers[0]?.webhook_configs[0]).toMatchObject({ url: 'http://control-plane:8080/api/v1/alerts/webhook', http_config: { authorization: { credentials_file: '/run/secrets/sluice-metrics-key' } } });
    await check(join(ROOT, 'deploy/alertmanager/alertmanager.compose.yml'));
    const targets = (file: string) => (parse(readFileSync(join(ROOT, file), 'utf8')) as { alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> } }).alerting.alertmanagers[0]?.static_configs[0]?.targets;
    expect(targets('deploy/prometheus/prometheus.yml')).toEqual([new URL(defaults.alertmanagerUrl).host]);
    expect(targets('deploy/prometheus/prometheus.compose.yml')).toEqual(['alertmanager:9093']);
  });
});
