import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { STACK_ENV_KEYS, loadStackEnv, readStackEnvFile } from '@sluice/shared/node/stack-env';

// docker-compose.yml must offer the same services on the same host ports, with the same SLUICE_* names, as
// the native stack configured by scripts/stack.env.
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string | number>;
  secrets?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { environment?: string; file?: string }>;
}

/** Secrets a process gets beyond the stack.env names; stack.env never holds them. */
const SECRETS: Record<string, string[]> = { 'control-plane': ['SLUICE_METRICS_KEY', 'SLUICE_ADMIN_KEY'], consumer: [], agent: ['SLUICE_AGENT_TOKEN'], 'fleet-bootstrap': ['SLUICE_ADMIN_KEY'] };

const composePath = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));
const compose = parse(readFileSync(composePath, 'utf8'), { merge: true }) as ComposeFile;
// Defaults from the file only: a developer's environment overrides must not make this test flaky.
const defaults = loadStackEnv({});
const fileKeys = Object.keys(readStackEnvFile());

function port(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}
function published(service: string): Map<number, number> {
  const map = new Map<number, number>();
  for (const spec of compose.services[service]?.ports ?? []) {
    const [host = '', container = ''] = spec.split(':');
    map.set(Number(host), Number(container));
  }
  return map;
}
function url(u: string): URL {
  return new URL(u);
}

describe('docker-compose.yml matches scripts/stack.env', () => {
  it('has the stack roles and the Sluice processes', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'agent',
        'alertmanager',
        'consumer',
        'control-plane',
        'elasticsearch',
        'fleet-bootstrap',
        'grafana',
        'kafka',
        'minio',
        'mosquitto',
        'postgres',
        'prometheus',
      ].sort(),
    );
    expect(compose.services.kafka?.image).toMatch(/^apache\/kafka:4\./);
    expect(compose.services.elasticsearch?.image).toMatch(/elasticsearch:8\./);
    expect(compose.services['control-plane']?.command).toEqual(['sluice-control-plane', 'serve']);
    expect(compose.services.consumer?.command).toEqual(['sluice-control-plane', 'consume']);
    expect(compose.services.agent?.command?.slice(0, 2)).toEqual(['sluice-agent', 'run']);
    // The agent is fleet-managed, as with `npm start`: enrolled by fleet-bootstrap before it runs.
    expect(compose.services['fleet-bootstrap']?.command?.slice(0, 2)).toEqual(['node', 'scripts/fleet-bootstrap.ts']);
  });

  it('publishes the native stack ports', () => {
    const expected: [string, number][] = [
      ['kafka', port(defaults.kafkaBrokers[0]!)],
      ['postgres', defaults.pgPort],
      ['minio', defaults.s3.port],
      ['minio', defaults.s3.consolePort],
      ['elasticsearch', Number(url(defaults.searchUrl).port)],
      ['prometheus', Number(url(defaults.prometheusUrl).port)],
      ['alertmanager', Number(url(defaults.alertmanagerUrl).port)],
      ['control-plane', Number(url(defaults.controlPlaneUrl).port)],
      ['agent', port(defaults.agentHttp)],
      ['grafana', 3000],
      ['mosquitto', Number(url(defaults.mqttUrl).port)],
    ];
    for (const [service, hostPort] of expected) {
      expect(published(service).has(hostPort), `${service} publishes ${hostPort}`).toBe(true);
    }
  });

  it('gives the Sluice processes exactly the stack.env variable names, plus their secrets', () => {
    expect([...fileKeys].sort()).toEqual([...STACK_ENV_KEYS].sort());
    for (const name of ['control-plane', 'consumer', 'agent']) {
      const env = compose.services[name]?.environment ?? {};
      expect(Object.keys(env).sort(), name).toEqual([...STACK_ENV_KEYS, ...(SECRETS[name] ?? [])].sort());
      expect(String(env.SLUICE_S3_ACCESS_KEY)).toBe(defaults.s3.accessKey);
      expect(String(env.SLUICE_S3_SECRET_KEY)).toBe(defaults.s3.secretKey);
      const pg = url(String(env.SLUICE_PG_URL));
      const nativePg = url(defaults.pgUrl);
      expect([pg.username, pg.password, pg.pathname]).toEqual([
        nativePg.username,
        nativePg.password,
        nativePg.pathname,
      ]);
    }
  });

  it('takes the Sluice secrets from the environment, never from the file, and hands Prometheus the same ones', () => {
    for (const [name, secrets] of Object.entries(SECRETS)) {
      for (const secret of secrets) {
        expect(String(compose.services[name]?.environment?.[secret]), `${name} ${secret}`).toMatch(new RegExp(`^\\$\\{${secret}:\\?.+\\}$`));
      }
    }
    expect(compose.secrets).toEqual({
      'sluice-metrics-key': { environment: 'SLUICE_METRICS_KEY' },
      'sluice-agent-token': { environment: 'SLUICE_AGENT_TOKEN' },
    });
    expect(compose.services.prometheus?.secrets?.sort()).toEqual(['sluice-agent-token', 'sluice-metrics-key']);
    expect(compose.services.alertmanager?.secrets).toEqual(['sluice-metrics-key']);
  });

  it('configures the engines with the same credentials', () => {
    const pg = url(defaults.pgUrl);
    expect(compose.services.postgres?.environment).toMatchObject({
      POSTGRES_USER: pg.username,
      POSTGRES_PASSWORD: pg.password,
      POSTGRES_DB: pg.pathname.slice(1),
    });
    expect(compose.services.minio?.environment).toMatchObject({
      MINIO_ROOT_USER: defaults.s3.accessKey,
      MINIO_ROOT_PASSWORD: defaults.s3.secretKey,
    });
  });
});
