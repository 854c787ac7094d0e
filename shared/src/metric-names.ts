/** Metric names shared by the agent, the control plane, Prometheus rules and the console. */
export const METRICS = {
  ingestedRows: 'ingested_rows_total',
  failedValidations: 'failed_validations_total',
  ingestionErrors: 'ingestion_errors_total',
  consumerLag: 'sluice_consumer_lag',
  sinkLatency: 'sluice_sink_write_seconds',
  dlqRecords: 'sluice_dlq_records_total',
  /** Entries in the DLQ table not yet replayed (read from PostgreSQL at scrape time). */
  dlqSize: 'sluice_dlq_size',
  agentRecordsRead: 'sluice_agent_records_read_total',
  agentRecordsCommitted: 'sluice_agent_records_committed_total',
  agentRecordsShipped: 'sluice_agent_records_shipped_total',
  agentRecordsResent: 'sluice_agent_records_resent_total',
  agentSourceErrors: 'sluice_agent_source_errors_total',
  agentOutboxRows: 'sluice_agent_outbox_rows',
  agentOutboxBytes: 'sluice_agent_outbox_bytes',
  agentOutboxOldestAge: 'sluice_agent_outbox_oldest_age_seconds',
  agentBreakerState: 'sluice_agent_breaker_state',
  /** Connections a source lost and made again (an MQTT broker), label source. */
  agentSourceReconnects: 'sluice_agent_source_reconnects_total',
  /** Control-plane fleet series (served by each `serve` process). */
  fleetCheckins: 'sluice_fleet_checkins_total',
  fleetCheckinLatency: 'sluice_fleet_checkin_seconds',
  /** Agents by connectivity (online / stale / offline) or revoked, read from PostgreSQL at scrape time. */
  fleetAgents: 'sluice_fleet_agents',
  /** Rollouts by state, read from PostgreSQL at scrape time. */
  fleetRollouts: 'sluice_fleet_rollouts',
  fleetRollbacks: 'sluice_fleet_rollbacks_total',
  /** Records whose dataset names an event-time field that was missing or unreadable (label reason): ingest time kept. */
  eventTimeFallbacks: 'sluice_event_time_fallbacks_total',
  /** Open anomalies (labels dataset, kind, series, direction; 1 each) and their scores, read from PostgreSQL at scrape time. */
  anomalyOpen: 'sluice_anomaly_open',
  anomalyScore: 'sluice_anomaly_score',
  /** Anomaly detector runs of a `serve` process, by result (ok, skipped, failed). */
  anomalyRuns: 'sluice_anomaly_detector_runs_total',
  /** Quality rule outcomes per dataset and rule (label outcome: pass, warn, fail), as the consumer judged them. */
  qualityOutcomes: 'sluice_quality_outcomes_total',
  /** Alerts Alertmanager delivered to the control plane's webhook, by alertname and status. */
  alertNotifications: 'sluice_alert_notifications_total',
} as const;

/**
 * prom-client's default gauges whose names end in `_total`, which the exposition format reserves for
 * counters (`promtool check metrics` fails on them). Each is the sum of a labelled gauge that stays:
 * nodejs_active_handles{type}, nodejs_active_requests{type}, nodejs_active_resources{type}.
 */
export const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;
