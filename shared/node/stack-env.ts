/**
 * Typed view of scripts/stack.env, the single source of the local stack's addresses and credentials, for
 * tests, benchmarks and dev tooling only: the services never read it (their settings come from the
 * environment; `npm start` sources the file, the tests call `feedStackEnv`). Variables set in the process
 * environment override the file, as they do for scripts/stack.sh.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const STACK_ENV_FILE = fileURLToPath(new URL('../../scripts/stack.env', import.meta.url));

export const STACK_ENV_KEYS = [
  'SLUICE_KAFKA_BROKERS',
  'SLUICE_KAFKA_BROKERS_3',
  'SLUICE_PG_PORT',
  'SLUICE_PG_URL',
  'SLUICE_S3_ENDPOINT',
  'SLUICE_S3_ACCESS_KEY',
  'SLUICE_S3_SECRET_KEY',
  'SLUICE_S3_CONSOLE_PORT',
  'SLUICE_SEARCH_URL',
  'SLUICE_PROMETHEUS_URL',
  'SLUICE_ALERTMANAGER_URL',
  'SLUICE_MQTT_URL',
  'SLUICE_CONTROL_PLANE_URL',
  'SLUICE_AGENT_HTTP',
] as const;

export type StackEnvKey = (typeof STACK_ENV_KEYS)[number];

export interface StackEnv {
  /** Every key, after process.env overrides. */
  raw: Record<StackEnvKey, string>;
  kafkaBrokers: string[];
  /** The three-node cluster used by fault tests (`stack.sh up --kafka-nodes 3`). */
  kafkaBrokers3: string[];
  pgPort: number;
  pgUrl: string;
  s3: {
    endpoint: string;
    useSSL: boolean;
    host: string;
    port: number;
    accessKey: string;
    secretKey: string;
    consolePort: number;
  };
  searchUrl: string;
  prometheusUrl: string;
  /** Alertmanager (the stack's Prometheus sends it the alerts). */
  alertmanagerUrl: string;
  /** The MQTT broker (mosquitto) the mqtt source's tests and benchmark use. */
  mqttUrl: string;
  controlPlaneUrl: string;
  /** host:port of the agent's HTTP surface (/metrics, /healthz, push endpoint). */
  agentHttp: string;
}

/** Parses the bash-sourceable KEY=VALUE format (comments, blank lines, optional quotes). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const [, key = '', rawValue = ''] = match;
    out[key] = rawValue.trim().replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

export function readStackEnvFile(file: string = STACK_ENV_FILE): Record<string, string> {
  return existsSync(file) ? parseEnvFile(readFileSync(file, 'utf8')) : {};
}

/** Puts the file's variables into `env` where it has none, as `set -a; source stack.env` would. */
export function feedStackEnv(env: NodeJS.ProcessEnv = process.env, file: string = STACK_ENV_FILE): void {
  for (const [key, value] of Object.entries(readStackEnvFile(file))) {
    if (env[key] === undefined || env[key] === '') env[key] = value;
  }
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function loadStackEnv(env: NodeJS.ProcessEnv = process.env, file: string = STACK_ENV_FILE): StackEnv {
  const fromFile = readStackEnvFile(file);
  const raw = {} as Record<StackEnvKey, string>;
  const missing: string[] = [];
  for (const key of STACK_ENV_KEYS) {
    const value = env[key] ?? fromFile[key];
    if (value === undefined || value === '') missing.push(key);
    else raw[key] = value;
  }
  if (missing.length > 0)
    throw new Error(`stack env: ${missing.join(', ')} not set (looked in the environment and ${file})`);

  const s3 = new URL(raw.SLUICE_S3_ENDPOINT);
  const useSSL = s3.protocol === 'https:';
  return {
    raw,
    kafkaBrokers: list(raw.SLUICE_KAFKA_BROKERS),
    kafkaBrokers3: list(raw.SLUICE_KAFKA_BROKERS_3),
    pgPort: Number(raw.SLUICE_PG_PORT),
    pgUrl: raw.SLUICE_PG_URL,
    s3: {
      endpoint: raw.SLUICE_S3_ENDPOINT,
      useSSL,
      host: s3.hostname,
      port: s3.port === '' ? (useSSL ? 443 : 80) : Number(s3.port),
      accessKey: raw.SLUICE_S3_ACCESS_KEY,
      secretKey: raw.SLUICE_S3_SECRET_KEY,
      consolePort: Number(raw.SLUICE_S3_CONSOLE_PORT),
    },
    searchUrl: raw.SLUICE_SEARCH_URL,
    prometheusUrl: raw.SLUICE_PROMETHEUS_URL,
    alertmanagerUrl: raw.SLUICE_ALERTMANAGER_URL,
    mqttUrl: raw.SLUICE_MQTT_URL,
    controlPlaneUrl: raw.SLUICE_CONTROL_PLANE_URL,
    agentHttp: raw.SLUICE_AGENT_HTTP,
  };
}
