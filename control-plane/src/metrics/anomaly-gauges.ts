/**
 * Open anomalies as Prometheus series, read from PostgreSQL at scrape time like the fleet gauges: the
 * anomalies table is the system of record, so every `serve` process reports the same values (alert on
 * max()), whichever of them runs the detector. A resolved anomaly's series disappears, which resolves its
 * alert. With PostgreSQL down the series are absent for that scrape and every other metric is still served.
 */
import type pg from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS } from '@sluice/shared/metric-names';
import { seriesName, type SeriesKind } from '../analytics/anomaly-rules.ts';

export function registerAnomalyGauges(registry: Registry, pool: pg.Pool): void {
  let read: Promise<Array<{ dataset: string; series_kind: SeriesKind; series_key: string; direction: string; score: number }> | undefined> | undefined;
  // Both gauges are filled from one query per scrape.
  const openAnomalies = () =>
    (read ??= pool
      .query<{ dataset: string; series_kind: SeriesKind; series_key: string; direction: string; score: number }>(
        "SELECT dataset, series_kind, series_key, direction, score FROM anomalies WHERE state = 'open' ORDER BY dataset, series_kind, series_key",
      )
      .then((r) => r.rows)
      .catch(() => undefined)
      .finally(() => setTimeout(() => (read = undefined), 0).unref()));
  new Gauge({
    name: METRICS.anomalyOpen,
    help: 'Open anomalies of a dataset (1 per series with one open; docs/analytics.md, "Anomalies")',
    labelNames: ['dataset', 'kind', 'series', 'direction'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of (await openAnomalies()) ?? []) this.set({ dataset: r.dataset, kind: r.series_kind, series: seriesName(r.series_kind, r.series_key), direction: r.direction }, 1);
    },
  });
  new Gauge({
    name: METRICS.anomalyScore,
    help: 'Score of each open anomaly: robust z-score of its worst pane (silence: panes without rows)',
    labelNames: ['dataset', 'kind', 'series'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of (await openAnomalies()) ?? []) this.set({ dataset: r.dataset, kind: r.series_kind, series: seriesName(r.series_kind, r.series_key) }, r.score);
    },
  });
}

/** The detector's runs in this process (the `serve` that runs the loop registers it). */
export function anomalyRunsCounter(registry: Registry): Counter<'result'> {
  return new Counter({ name: METRICS.anomalyRuns, help: 'Anomaly detector runs of this process: ok, skipped (another process held the lock), failed', labelNames: ['result'], registers: [registry] });
}
