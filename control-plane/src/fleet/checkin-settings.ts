/** The check-in's settings, read from the environment by config.ts; kept apart so config.ts loads no fleet code. */
export interface CheckinSettings {
  /** SLUICE_CHECKIN_MAX_WAIT_SECONDS: longest long-poll hold (default 30). */
  maxWaitSeconds: number;
  /** SLUICE_CHECKIN_INTERVAL_SECONDS: how often an idle agent reports (default 10). */
  intervalSeconds: number;
  /** SLUICE_CHECKIN_FLUSH_MS: how often reports are written (default 1000). */
  flushMs: number;
  /** SLUICE_CHECKIN_HISTORY_SECONDS: at most one unchanged history row per agent this often (default 60). */
  historySeconds: number;
  /** SLUICE_CHECKIN_HISTORY_ROWS: history rows kept per agent (default 50). */
  historyRows: number;
}

export const DEFAULT_CHECKIN_SETTINGS: CheckinSettings = { maxWaitSeconds: 30, intervalSeconds: 10, flushMs: 1000, historySeconds: 60, historyRows: 50 };
