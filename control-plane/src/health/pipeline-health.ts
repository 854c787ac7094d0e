/**
 * Per-dataset pipeline health over the last `minutes`: what the consumer loaded (ingest_counts), what the
 * sinks failed or refused (sink_error_counts), what was dead-lettered and why (the dlq table, by the minute
 * it was dead-lettered) and how far the consumer group is behind (consumer-lag.ts). Every dataset appears,
 * idle ones too, so a dataset that stopped flowing shows as zeros rather than vanishing.
 */
import type pg from 'pg';
import type { ConsumerLagView, DatasetHealth, PipelineHealthReport } from '@sluice/shared/api/fleet-health';
import type { ConsumerLagReader, PartitionLagAge } from './consumer-lag.ts';

/** DLQ reason kinds given at intake, before any sink: the record itself was refused (validation failures). */
const INTAKE_KINDS: ReadonlySet<string> = new Set(['schema', 'parse', 'not_envelope', 'unknown_dataset', 'size', 'unstorable']);
const UNKNOWN_DATASET = '(unknown)';

type Minute = DatasetHealth['perMinute'][number];

export interface PipelineHealthOptions {
  pool: pg.Pool;
  /** Absent: lag is reported as unknown. */
  lag?: ConsumerLagReader | undefined;
  topicPrefix: string;
}

export class PipelineHealthService {
  readonly #o: PipelineHealthOptions;

  constructor(options: PipelineHealthOptions) {
    this.#o = options;
  }

  async report(minutes: number): Promise<PipelineHealthReport> {
    const { pool } = this.#o;
    const window = [minutes];
    const [now, datasets, ingest, sinkErrors, dlq, lag] = await Promise.all([
      pool.query<{ now: Date }>('SELECT now()'),
      pool.query<{ name: string }>('SELECT name FROM datasets ORDER BY name'),
      pool.query<{ dataset: string; minute: Date; ingested: string }>(
        'SELECT dataset, minute, ingested FROM ingest_counts WHERE minute >= now() - make_interval(mins => $1)',
        window,
      ),
      pool.query<{ dataset: string; sink: string; minute: Date; failed_writes: string; rejected: string }>(
        'SELECT dataset, sink, minute, failed_writes, rejected FROM sink_error_counts WHERE minute >= now() - make_interval(mins => $1)',
        window,
      ),
      pool.query<{ dataset: string | null; minute: Date; reason_kind: string; n: string }>(
        `SELECT dataset, date_trunc('minute', created_at) AS minute, reason_kind, count(*) AS n FROM dlq
         WHERE created_at >= now() - make_interval(mins => $1) GROUP BY 1, 2, 3`,
        window,
      ),
      this.#lag(),
    ]);

    const byDataset = new Map<string, { minutes: Map<number, Minute>; kinds: Record<string, number> }>();
    const entry = (dataset: string | null) => {
      const name = dataset ?? UNKNOWN_DATASET;
      let e = byDataset.get(name);
      if (!e) byDataset.set(name, (e = { minutes: new Map(), kinds: {} }));
      return e;
    };
    const minuteOf = (dataset: string | null, at: Date): Minute => {
      const { minutes: m } = entry(dataset);
      let row = m.get(at.getTime());
      if (!row) m.set(at.getTime(), (row = { minute: at.toISOString(), ingested: 0, deadLettered: 0, validationFailures: 0, sinkErrors: {} }));
      return row;
    };
    for (const { name } of datasets.rows) entry(name);
    for (const r of ingest.rows) minuteOf(r.dataset, r.minute).ingested += Number(r.ingested);
    for (const r of sinkErrors.rows) {
      const errors = minuteOf(r.dataset, r.minute).sinkErrors;
      const sink = (errors[r.sink] ??= { failedWrites: 0, rejected: 0 });
      sink.failedWrites += Number(r.failed_writes);
      sink.rejected += Number(r.rejected);
    }
    for (const r of dlq.rows) {
      const n = Number(r.n);
      const row = minuteOf(r.dataset, r.minute);
      row.deadLettered += n;
      if (INTAKE_KINDS.has(r.reason_kind)) row.validationFailures += n;
      const kinds = entry(r.dataset).kinds;
      kinds[r.reason_kind] = (kinds[r.reason_kind] ?? 0) + n;
    }

    const lagByDataset = 'error' in lag ? undefined : groupLag(lag.partitions, this.#o.topicPrefix);
    return {
      minutes,
      at: now.rows[0]!.now.toISOString(),
      datasets: [...byDataset]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([dataset, { minutes: m, kinds }]) => {
          const perMinute = [...m.values()].sort((a, b) => a.minute.localeCompare(b.minute));
          return { dataset, totals: totalOf(perMinute), deadLetteredByKind: kinds, perMinute, lag: lagByDataset?.get(dataset) ?? null };
        }),
      lagError: 'error' in lag ? lag.error : null,
    };
  }

  async #lag(): Promise<{ partitions: PartitionLagAge[] } | { error: string }> {
    if (!this.#o.lag) return { error: 'this control plane has no Kafka lag reader' };
    try {
      return { partitions: await this.#o.lag.read() };
    } catch (error) {
      return { error: `Kafka could not report the consumer lag: ${(error as Error).message}` };
    }
  }
}

function totalOf(perMinute: readonly Minute[]): DatasetHealth['totals'] {
  const totals: DatasetHealth['totals'] = { ingested: 0, deadLettered: 0, validationFailures: 0, sinkErrors: {} };
  for (const m of perMinute) {
    totals.ingested += m.ingested;
    totals.deadLettered += m.deadLettered;
    totals.validationFailures += m.validationFailures;
    for (const [sink, e] of Object.entries(m.sinkErrors)) {
      const t = (totals.sinkErrors[sink] ??= { failedWrites: 0, rejected: 0 });
      t.failedWrites += e.failedWrites;
      t.rejected += e.rejected;
    }
  }
  return totals;
}

/**
 * Topics are `<prefix><dataset>`; the dataset's lag in seconds is that of its most delayed partition whose
 * age could be read (null only when none of its lagging partitions could be).
 */
function groupLag(partitions: readonly PartitionLagAge[], prefix: string): Map<string, ConsumerLagView> {
  const out = new Map<string, ConsumerLagView>();
  for (const p of partitions) {
    if (!p.topic.startsWith(prefix)) continue;
    const dataset = p.topic.slice(prefix.length);
    let view = out.get(dataset);
    if (!view) out.set(dataset, (view = { records: 0, seconds: 0, partitions: [] }));
    view.records += p.records;
    view.partitions.push({ partition: p.partition, records: p.records, seconds: p.seconds });
  }
  for (const view of out.values()) {
    view.partitions.sort((a, b) => a.partition - b.partition);
    const lagging = view.partitions.filter((p) => p.records > 0);
    const known = lagging.flatMap((p) => (p.seconds === null ? [] : [p.seconds]));
    view.seconds = known.length > 0 ? Math.max(...known) : lagging.length > 0 ? null : 0;
  }
  return out;
}
