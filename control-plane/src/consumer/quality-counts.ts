/**
 * The quality rules' outcomes as the consumer judged them (docs/transforms.md, "Quality report"): counted per
 * dataset, rule and minute of ingest in memory and upserted every `flushMs` (quality_counts), the newest
 * offending records kept per rule (quality_samples, at most SAMPLES_PER_RULE), and a Prometheus counter
 * sluice_quality_outcomes_total{dataset, rule, outcome}. Counts are at least once: a batch judged again after
 * a crash counts again. A failed flush keeps its counts for the next one.
 */
import type pg from 'pg';
import { Counter, type Registry } from 'prom-client';
import { METRICS } from '@sluice/shared/metric-names';
import type { Envelope } from '@sluice/shared/envelope';
import type { Logger } from '@sluice/shared/node/logger';
import type { RuleOutcome } from '../datasets/record-processor.ts';

const SAMPLES_PER_RULE = 100;
const MAX_PENDING_SAMPLES = 1000;

export class QualityCounts {
  readonly #pool: pg.Pool;
  readonly #logger: Logger | undefined;
  readonly #counter: Counter;
  #counts = new Map<string, { dataset: string; rule: string; minute: string; pass: number; warn: number; fail: number }>();
  #samples: Array<{ dataset: string; rule: string; recordId: string; outcome: string; reason: string; value: unknown }> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(pool: pg.Pool, registry: Registry, options: { flushMs?: number; logger?: Logger } = {}) {
    this.#pool = pool;
    this.#logger = options.logger;
    this.#counter = new Counter({ name: METRICS.qualityOutcomes, help: 'Quality rule outcomes per dataset and rule: pass, warn (loaded), fail (dead-lettered)', labelNames: ['dataset', 'rule', 'outcome'], registers: [registry] });
    const flushMs = options.flushMs ?? 5000;
    if (flushMs > 0) {
      this.#timer = setInterval(() => void this.flush().catch((error: unknown) => this.#logger?.warn({ err: error }, 'could not write quality counts; will retry')), flushMs);
      this.#timer.unref();
    }
  }

  add(envelope: Envelope, outcomes: readonly RuleOutcome[]): void {
    const minute = new Date(Math.floor(Date.parse(envelope.ingestTime) / 60_000) * 60_000).toISOString();
    for (const o of outcomes) {
      const key = `${envelope.dataset}\u0000${o.rule}\u0000${minute}`;
      let c = this.#counts.get(key);
      if (!c) {
        c = { dataset: envelope.dataset, rule: o.rule, minute, pass: 0, warn: 0, fail: 0 };
        this.#counts.set(key, c);
      }
      c[o.outcome] += 1;
      this.#counter.inc({ dataset: envelope.dataset, rule: o.rule, outcome: o.outcome });
      if (o.outcome !== 'pass' && this.#samples.length < MAX_PENDING_SAMPLES) {
        this.#samples.push({ dataset: envelope.dataset, rule: o.rule, recordId: envelope.id, outcome: o.outcome, reason: o.reason ?? '', value: o.value ?? null });
      }
    }
  }

  async flush(): Promise<void> {
    const counts = [...this.#counts.values()];
    const samples = this.#samples;
    if (counts.length === 0 && samples.length === 0) return;
    this.#counts = new Map();
    this.#samples = [];
    try {
      await this.#pool.query(
        `WITH c AS (
           INSERT INTO quality_counts (dataset, rule, minute, pass, warn, fail)
           SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[])
           ON CONFLICT (dataset, rule, minute) DO UPDATE SET pass = quality_counts.pass + excluded.pass, warn = quality_counts.warn + excluded.warn, fail = quality_counts.fail + excluded.fail
           RETURNING 1),
         s AS (
           INSERT INTO quality_samples (dataset, rule, record_id, outcome, reason, value)
           SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::jsonb[]) RETURNING 1)
         SELECT (SELECT count(*) FROM c) AS c, (SELECT count(*) FROM s) AS s`,
        [
          counts.map((c) => c.dataset), counts.map((c) => c.rule), counts.map((c) => c.minute), counts.map((c) => c.pass), counts.map((c) => c.warn), counts.map((c) => c.fail),
          samples.map((s) => s.dataset), samples.map((s) => s.rule), samples.map((s) => s.recordId), samples.map((s) => s.outcome), samples.map((s) => s.reason), samples.map((s) => JSON.stringify(s.value)),
        ],
      );
      if (samples.length > 0) {
        await this.#pool.query(
          `DELETE FROM quality_samples q USING (
             SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY dataset, rule ORDER BY id DESC) AS n FROM quality_samples
                              WHERE (dataset, rule) IN (SELECT DISTINCT * FROM unnest($1::text[], $2::text[]))) r WHERE n > $3) old
           WHERE q.id = old.id`,
          [samples.map((s) => s.dataset), samples.map((s) => s.rule), SAMPLES_PER_RULE],
        );
      }
    } catch (error) {
      for (const c of counts) {
        const key = `${c.dataset}\u0000${c.rule}\u0000${c.minute}`;
        const held = this.#counts.get(key);
        if (held) {
          held.pass += c.pass;
          held.warn += c.warn;
          held.fail += c.fail;
        } else this.#counts.set(key, c);
      }
      this.#samples = [...samples, ...this.#samples].slice(0, MAX_PENDING_SAMPLES);
      throw error;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush().catch((error: unknown) => this.#logger?.warn({ err: error }, 'could not write the last quality counts'));
  }
}
