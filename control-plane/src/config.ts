/**
 * The control plane's settings: every one comes from a SLUICE_* environment variable, and every default is
 * here. Read once at startup; bad or missing values fail fast with the variable's name. Addresses default to
 * the loopback ports of the local stack; credentials (the PostgreSQL URL, the S3 keys) have no default, so a
 * deployment that forgot one stops at start instead of trying a development password. The development file
 * scripts/stack.env is never read here: `npm start` and the tests put it into the environment.
 */
import { DEFAULT_TOPIC_PREFIX, DLQ_TOPIC } from '@sluice/shared/envelope';
import { CHECKIN_MAX_WAIT_SECONDS } from '@sluice/shared/fleet/checkin';
import { DEFAULT_CHECKIN_SETTINGS, type CheckinSettings } from './fleet/checkin-settings.ts';
import { DEFAULT_CONNECTIVITY } from '@sluice/shared/api/fleet-agents';
import { DEFAULT_OPERATOR_SETTINGS as OPS, type OperatorSettings } from './operators/operator-services.ts';
import { jobsSettings, type JobsSettings } from './lake/jobs/jobs-config.ts';

export interface ControlPlaneConfig {
  pgUrl: string;
  /** Schema of the control plane's own tables (datasets, dlq, ...). */
  stateSchema: string;
  /** Schema the postgres sink creates data tables in. */
  dataSchema: string;
  kafkaBrokers: string[];
  topicPrefix: string;
  dlqTopic: string;
  groupId: string;
  http: { host: string; port: number; bodyLimitBytes: number };
  /** Where each `consume` process serves /metrics and /healthz; port 0 picks a free one (logged). */
  consumerMetrics: { host: string; port: number };
  /** Distinct agent label values on the record counters before the rest count as `(other)`. */
  maxAgentLabels: number;
  /** Records whose Kafka value is larger go to the DLQ instead of the sinks. */
  maxRecordBytes: number;
  /** Largest batch the consumer hands to the sinks, how long it waits to fill one, how many are in the sinks at once. */
  /** fetchMaxBytes: what one Kafka fetch may return (bounds the decoded backlog a consumer holds). */
  /** maxBytes: most bytes (values + keys) in one batch, so memory stays bounded whatever the record size. */
  batch: { maxRecords: number; maxBytes: number; maxWaitMs: number; maxInFlight: number; fetchMaxBytes: number };
  topicRefreshMs: number;
  /**
   * A sink error nobody classified is retried `unknownAttempts` times and for `unknownRetryMs` (both), then
   * its records are dead-lettered; a dataset whose sink write stays stalled `pauseAfterMs` is paused.
   */
  sinkRetry: { unknownAttempts: number; unknownRetryMs: number; pauseAfterMs: number };
  /** dedupeWindowMs: how long the object store keeps a record id out of later segments (0 = by offset only). */
  s3: { endpoint: string; accessKey: string; secretKey: string; region: string | undefined; bucket: string; dedupeWindowMs: number };
  search: SearchSettings;
  /** Bootstrap admin key: its hash is stored on first start; the key itself is never logged. */
  adminKey: string | undefined;
  /** Bootstrap viewer key for Prometheus and health probes: its hash is stored on every start. */
  metricsKey: string | undefined;
  /** PEM files `serve` listens with (https) when set; unset means plain http (e.g. behind a TLS-terminating proxy). */
  tls: TlsFiles | undefined;
  /** Agent check-ins (SLUICE_CHECKIN_*; fleet/fleet-services.ts has the meanings and defaults). */
  checkin: CheckinSettings;
  /** Token lifetimes, key rotation and login lockout (operators/operator-services.ts has each variable). */
  operators: OperatorSettings;
  /**
   * Agents, fleet summary and ledger: an agent is stale after SLUICE_AGENT_STALE_SECONDS without a check-in
   * and offline after SLUICE_AGENT_OFFLINE_SECONDS (fleet/connectivity.ts); a ledger minute settles
   * SLUICE_LEDGER_SETTLE_SECONDS after it ends (until then records not yet in the stores count as in flight,
   * after it as missing).
   */
  fleetHealth: { agentStaleSeconds: number; agentOfflineSeconds: number; ledgerSettleSeconds: number };
  /** Ingestion jobs and the `worker` process (lake/jobs/jobs-config.ts has each variable). */
  jobs: JobsSettings;
  /** The console's origin (SLUICE_CONSOLE_ORIGIN, e.g. https://console.example.com): the one origin CORS allows. */
  consoleOrigin: string | undefined;
  /** The console's build served at /console (SLUICE_CONSOLE_DIR); unset: the checkout's desktop/dist/renderer. */
  consoleDir: string | undefined;
  /** SLUICE_ROLLOUT_TICK_MS: how often `serve` steps running rollouts (gates, waves, rollbacks). */
  rolloutTickMs: number;
  /**
   * The anomaly detector (analytics/anomaly-detector.ts): every SLUICE_ANOMALY_INTERVAL_SECONDS (0: off) one
   * `serve` process evaluates the datasets' newly final panes; a dataset's first evaluation starts
   * SLUICE_ANOMALY_CATCH_UP_MINUTES back.
   */
  anomaly: { intervalMs: number; catchUpPanes: number };
  /**
   * Analytics retention (analytics/retention.ts): every SLUICE_ANALYTICS_RETENTION_INTERVAL_SECONDS (0: off) one
   * `serve` process keeps day partitions of the panes and drops what is older than SLUICE_ANALYTICS_RETENTION_DAYS.
   */
  analyticsRetention: { days: number; intervalMs: number };
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** The search engine and how the sink creates its daily indices; unset options leave the engine's defaults. */
export interface SearchSettings {
  url: string;
  /** Basic auth; used when no API key is set. */
  username: string | undefined;
  password: string | undefined;
  /** Elasticsearch API key (`Authorization: ApiKey …`); wins over username/password. */
  apiKey: string | undefined;
  replicas: number | undefined;
  refreshInterval: string | undefined;
}

/** The consumer's metrics port in the local stack and compose (deploy/prometheus scrapes it). */
export const DEFAULT_CONSUMER_METRICS_PORT = 9464;

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

function int(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${key} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return value;
}

function port(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const value = int(env, key, fallback);
  if (value > 65_535) throw new Error(`${key} must be a TCP port (0-65535), got ${value}`);
  return value;
}

function required(env: NodeJS.ProcessEnv, key: string): string {
  const value = env[key];
  if (value === undefined || value === '') throw new Error(`${key} must be set (it carries a credential, so it has no default)`);
  return value;
}

function optional(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const value = env[key];
  return value === undefined || value === '' ? undefined : value;
}

function brokers(env: NodeJS.ProcessEnv, key: string, fallback: string): string[] {
  const list = (env[key] || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new Error(`${key} must list at least one host:port`);
  return list;
}

/** Durations the engines accept for `index.refresh_interval` (`-1` turns refresh off). */
const REFRESH_INTERVAL = /^(-1|\d+(nanos|micros|ms|s|m|h|d))$/;

function search(env: NodeJS.ProcessEnv): SearchSettings {
  const replicas = optional(env, 'SLUICE_SEARCH_REPLICAS');
  const refreshInterval = optional(env, 'SLUICE_SEARCH_REFRESH_INTERVAL');
  if (refreshInterval !== undefined && !REFRESH_INTERVAL.test(refreshInterval)) {
    throw new Error(`SLUICE_SEARCH_REFRESH_INTERVAL must be a duration such as 1s, 30s or -1, got ${JSON.stringify(refreshInterval)}`);
  }
  const username = optional(env, 'SLUICE_SEARCH_USERNAME');
  return {
    url: env.SLUICE_SEARCH_URL || 'http://127.0.0.1:9200',
    username,
    password: username === undefined ? undefined : (env.SLUICE_SEARCH_PASSWORD ?? ''),
    apiKey: optional(env, 'SLUICE_SEARCH_API_KEY'),
    replicas: replicas === undefined ? undefined : int(env, 'SLUICE_SEARCH_REPLICAS', 0),
    refreshInterval,
  };
}

function ident(env: NodeJS.ProcessEnv, key: string, fallback: string): string {
  const value = env[key] ?? fallback;
  if (!IDENT.test(value)) throw new Error(`${key} must be a lower-case SQL identifier, got ${JSON.stringify(value)}`);
  return value;
}

/** Both files or neither: a certificate without its key (or the reverse) would silently serve plain http. */
function tls(env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const certFile = optional(env, 'SLUICE_TLS_CERT_FILE');
  const keyFile = optional(env, 'SLUICE_TLS_KEY_FILE');
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined) throw new Error('SLUICE_TLS_CERT_FILE must be set when SLUICE_TLS_KEY_FILE is (https needs both the certificate and its key)');
  if (keyFile === undefined) throw new Error('SLUICE_TLS_KEY_FILE must be set when SLUICE_TLS_CERT_FILE is (https needs both the certificate and its key)');
  return { certFile, keyFile };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const adminKey = env.SLUICE_ADMIN_KEY === '' ? undefined : env.SLUICE_ADMIN_KEY;
  const metricsKey = env.SLUICE_METRICS_KEY === '' ? undefined : env.SLUICE_METRICS_KEY;
  // Refused rather than stored: one key cannot hold two roles (and the second insert would fail obscurely).
  if (adminKey !== undefined && adminKey === metricsKey) throw new Error('SLUICE_METRICS_KEY must differ from SLUICE_ADMIN_KEY');
  return {
    pgUrl: required(env, 'SLUICE_PG_URL'),
    stateSchema: ident(env, 'SLUICE_STATE_SCHEMA', 'sluice'),
    dataSchema: ident(env, 'SLUICE_DATA_SCHEMA', 'sluice_data'),
    kafkaBrokers: brokers(env, 'SLUICE_KAFKA_BROKERS', '127.0.0.1:9092'),
    topicPrefix: env.SLUICE_TOPIC_PREFIX ?? DEFAULT_TOPIC_PREFIX,
    dlqTopic: env.SLUICE_DLQ_TOPIC ?? DLQ_TOPIC,
    groupId: env.SLUICE_CONSUMER_GROUP ?? 'sluice-control-plane',
    http: {
      host: env.SLUICE_HTTP_HOST ?? '127.0.0.1',
      port: int(env, 'SLUICE_HTTP_PORT', 8080),
      bodyLimitBytes: int(env, 'SLUICE_HTTP_BODY_LIMIT', 10 * 1024 * 1024),
    },
    consumerMetrics: {
      host: env.SLUICE_CONSUMER_METRICS_HOST ?? env.SLUICE_HTTP_HOST ?? '127.0.0.1',
      port: port(env, 'SLUICE_CONSUMER_METRICS_PORT', DEFAULT_CONSUMER_METRICS_PORT),
    },
    maxAgentLabels: Math.max(1, int(env, 'SLUICE_METRICS_MAX_AGENTS', 1000)),
    maxRecordBytes: int(env, 'SLUICE_MAX_RECORD_BYTES', 1024 * 1024),
    batch: {
      maxRecords: int(env, 'SLUICE_BATCH_MAX_RECORDS', 5000),
      maxBytes: Math.max(1, int(env, 'SLUICE_BATCH_MAX_BYTES', 8 * 1024 * 1024)),
      maxWaitMs: int(env, 'SLUICE_BATCH_MAX_WAIT_MS', 200),
      maxInFlight: Math.max(1, int(env, 'SLUICE_BATCH_IN_FLIGHT', 2)),
      // Compressed bytes: lz4 JSON envelopes decode to several times as much, and every decoded message waits in the
      // stream's buffer (docs/consumer.md, memory). 1 MiB (Kafka's own per-partition default) holds a few batches.
      fetchMaxBytes: int(env, 'SLUICE_FETCH_MAX_BYTES', 1024 * 1024),
    },
    topicRefreshMs: int(env, 'SLUICE_TOPIC_REFRESH_MS', 1_000),
    sinkRetry: {
      unknownAttempts: Math.max(1, int(env, 'SLUICE_SINK_UNKNOWN_ATTEMPTS', 5)),
      unknownRetryMs: int(env, 'SLUICE_SINK_UNKNOWN_RETRY_MS', 60_000),
      pauseAfterMs: int(env, 'SLUICE_CONSUMER_PAUSE_AFTER_MS', 2_000),
    },
    s3: {
      endpoint: env.SLUICE_S3_ENDPOINT || 'http://127.0.0.1:9000',
      accessKey: required(env, 'SLUICE_S3_ACCESS_KEY'),
      secretKey: required(env, 'SLUICE_S3_SECRET_KEY'),
      region: optional(env, 'SLUICE_S3_REGION'),
      bucket: env.SLUICE_S3_BUCKET ?? 'sluice',
      dedupeWindowMs: int(env, 'SLUICE_S3_DEDUPE_WINDOW_HOURS', 7 * 24) * 3_600_000,
    },
    search: search(env),
    adminKey,
    metricsKey,
    tls: tls(env),
    checkin: {
      maxWaitSeconds: Math.min(CHECKIN_MAX_WAIT_SECONDS, int(env, 'SLUICE_CHECKIN_MAX_WAIT_SECONDS', DEFAULT_CHECKIN_SETTINGS.maxWaitSeconds)),
      intervalSeconds: Math.max(1, int(env, 'SLUICE_CHECKIN_INTERVAL_SECONDS', DEFAULT_CHECKIN_SETTINGS.intervalSeconds)),
      flushMs: Math.max(10, int(env, 'SLUICE_CHECKIN_FLUSH_MS', DEFAULT_CHECKIN_SETTINGS.flushMs)),
      historySeconds: int(env, 'SLUICE_CHECKIN_HISTORY_SECONDS', DEFAULT_CHECKIN_SETTINGS.historySeconds),
      historyRows: Math.max(1, int(env, 'SLUICE_CHECKIN_HISTORY_ROWS', DEFAULT_CHECKIN_SETTINGS.historyRows)),
    },
    operators: {
      jwtTtlSeconds: Math.max(30, int(env, 'SLUICE_JWT_TTL_SECONDS', OPS.jwtTtlSeconds)),
      jwtSecret: optional(env, 'SLUICE_JWT_SECRET'),
      jwtRotateDays: Math.max(1, int(env, 'SLUICE_JWT_ROTATE_DAYS', OPS.jwtRotateDays)),
      refreshTtlSeconds: Math.max(60, int(env, 'SLUICE_REFRESH_TTL_SECONDS', OPS.refreshTtlSeconds)),
      sessionMaxSeconds: Math.max(60, int(env, 'SLUICE_SESSION_MAX_SECONDS', OPS.sessionMaxSeconds)),
      loginMaxFailures: Math.max(1, int(env, 'SLUICE_LOGIN_MAX_FAILURES', OPS.loginMaxFailures)),
      loginLockoutSeconds: int(env, 'SLUICE_LOGIN_LOCKOUT_SECONDS', OPS.loginLockoutSeconds),
      loginRatePerMinute: Math.max(1, int(env, 'SLUICE_LOGIN_RATE_PER_MINUTE', OPS.loginRatePerMinute)),
    },
    consoleOrigin: origin(env, 'SLUICE_CONSOLE_ORIGIN'),
    consoleDir: optional(env, 'SLUICE_CONSOLE_DIR'),
    rolloutTickMs: int(env, 'SLUICE_ROLLOUT_TICK_MS', 1000),
    anomaly: { intervalMs: int(env, 'SLUICE_ANOMALY_INTERVAL_SECONDS', 30) * 1000, catchUpPanes: Math.max(1, int(env, 'SLUICE_ANOMALY_CATCH_UP_MINUTES', 60)) },
    analyticsRetention: { days: Math.max(1, int(env, 'SLUICE_ANALYTICS_RETENTION_DAYS', 30)), intervalMs: int(env, 'SLUICE_ANALYTICS_RETENTION_INTERVAL_SECONDS', 3600) * 1000 },
    fleetHealth: fleetHealth(env),
    jobs: jobsSettings(env, int),
  };
}

function fleetHealth(env: NodeJS.ProcessEnv): ControlPlaneConfig['fleetHealth'] {
  const agentStaleSeconds = Math.max(1, int(env, 'SLUICE_AGENT_STALE_SECONDS', DEFAULT_CONNECTIVITY.staleSeconds));
  const agentOfflineSeconds = int(env, 'SLUICE_AGENT_OFFLINE_SECONDS', DEFAULT_CONNECTIVITY.offlineSeconds);
  if (agentOfflineSeconds < agentStaleSeconds) {
    throw new Error(`SLUICE_AGENT_OFFLINE_SECONDS (${agentOfflineSeconds}) must be at least SLUICE_AGENT_STALE_SECONDS (${agentStaleSeconds})`);
  }
  return { agentStaleSeconds, agentOfflineSeconds, ledgerSettleSeconds: int(env, 'SLUICE_LEDGER_SETTLE_SECONDS', 120) };
}

/** An exact origin (scheme://host[:port]): CORS compares it byte for byte with the browser's Origin header. */
function origin(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const value = optional(env, key);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${key} must be an origin such as https://console.example.com, got ${JSON.stringify(value)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== value.replace(/\/$/, '')) {
    throw new Error(`${key} must be an origin such as https://console.example.com (scheme, host, optional port; no path), got ${JSON.stringify(value)}`);
  }
  return url.origin;
}
