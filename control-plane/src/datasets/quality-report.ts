/**
 * GET /api/v1/datasets/:name/quality (docs/transforms.md, "Quality report"): per rule of the latest version
 * (and any rule counted in the range that a later version dropped), the outcomes per minute of ingest, their
 * sums, and the values that broke it most often among its newest offending records (quality_samples).
 */
import type pg from 'pg';
import type { QualityReport } from '@sluice/shared/api/datasets';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { timeRange } from '../analytics/analytics-queries.ts';

const OFFENDERS_PER_RULE = 10;

export async function qualityReport(pool: pg.Pool, dataset: DatasetVersion, query: { from?: string | undefined; to?: string | undefined }, now = Date.now()): Promise<QualityReport> {
  const { from, to } = timeRange(query, now);
  const range = [dataset.spec.name, new Date(from).toISOString(), new Date(to).toISOString()];
  const counts = await pool.query<{ rule: string; minute: Date; pass: string; warn: string; fail: string }>(
    'SELECT rule, minute, pass, warn, fail FROM quality_counts WHERE dataset = $1 AND minute >= $2 AND minute < $3 ORDER BY rule, minute',
    range,
  );
  const offenders = await pool.query<{ rule: string; value: unknown; n: string; record_id: string; reason: string; at: Date }>(
    `SELECT rule, value, count(*) AS n, (array_agg(record_id ORDER BY id DESC))[1] AS record_id, (array_agg(reason ORDER BY id DESC))[1] AS reason, max(at) AS at
       FROM quality_samples WHERE dataset = $1 AND at >= $2 AND at < $3 GROUP BY rule, value ORDER BY rule, n DESC, at DESC`,
    range,
  );
  const severity = new Map((dataset.rules ?? []).map((r) => [r.name, r.severity ?? 'fail']));
  const names = [...new Set([...severity.keys(), ...counts.rows.map((r) => r.rule)])];
  return {
    dataset: dataset.spec.name,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    rules: names.map((rule) => {
      const minutes = counts.rows.filter((r) => r.rule === rule).map((r) => ({ minute: r.minute.toISOString(), pass: Number(r.pass), warn: Number(r.warn), fail: Number(r.fail) }));
      const sum = (k: 'pass' | 'warn' | 'fail'): number => minutes.reduce((n, m) => n + m[k], 0);
      return {
        rule,
        severity: severity.get(rule) ?? 'fail',
        pass: sum('pass'),
        warn: sum('warn'),
        fail: sum('fail'),
        minutes,
        offenders: offenders.rows
          .filter((o) => o.rule === rule)
          .slice(0, OFFENDERS_PER_RULE)
          .map((o) => ({ value: o.value, count: Number(o.n), lastRecordId: o.record_id, lastReason: o.reason, lastAt: o.at.toISOString() })),
      };
    }),
  };
}
