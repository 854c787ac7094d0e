import type { FastifyPluginAsync } from 'fastify';
import { Gauge } from 'prom-client';
import { UnavailableError } from '@sluice/shared/errors';
import { METRICS } from '@sluice/shared/metric-names';
import { errorResponses } from '@sluice/shared/api/error-body';
import { livenessSchema, pipelineHealthSchema, readinessSchema } from '@sluice/shared/api/health';
import type { ServerDeps } from '../server-deps.ts';

async function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    const { pool } = deps;
    // The DLQ's size is read from PostgreSQL at scrape time: the table is the DLQ's system of record.
    new Gauge({
      name: METRICS.dlqSize,
      help: 'Entries in the DLQ table not yet replayed',
      labelNames: ['dataset'],
      registers: [deps.metrics.registry],
      async collect() {
        this.reset();
        // With PostgreSQL down the series is absent for this scrape, and every other metric still served:
        // metrics matter most during an outage.
        const rows = await pool.query<{ dataset: string | null; n: string }>('SELECT dataset, count(*) AS n FROM dlq WHERE replayed_at IS NULL GROUP BY dataset').catch(() => undefined);
        for (const r of rows?.rows ?? []) this.set({ dataset: r.dataset ?? '(unknown)' }, Number(r.n));
      },
    });

    // Operational endpoints need a key too (viewer): probes and Prometheus send `Authorization: Bearer`.
    // Liveness checks nothing but the process, so it answers while PostgreSQL is down; /readyz reports that.
    app.get('/healthz', { config: { auth: 'viewer', liveness: true }, schema: { summary: 'Liveness: the process answers', hide: true, response: { 200: livenessSchema, ...errorResponses } } }, () => ({ status: 'ok' }));

    app.get('/readyz', { config: { auth: 'viewer' }, schema: { summary: 'Readiness: PostgreSQL and Kafka reachable', hide: true, response: { 200: readinessSchema, ...errorResponses } } }, async () => {
      const checks = await Promise.allSettled([
        withTimeout('PostgreSQL', pool.query('SELECT 1'), 3_000),
        withTimeout('Kafka', deps.kafka.ping(), 5_000),
      ]);
      const failing = checks.flatMap((c, i) => (c.status === 'rejected' ? [`${['PostgreSQL', 'Kafka'][i]}: ${(c.reason as Error).message}`] : []));
      if (failing.length > 0) throw UnavailableError(`not ready: ${failing.join('; ')}`, { retryAfterSeconds: 5 });
      return { status: 'ready' };
    });

    app.get('/metrics', { config: { auth: 'viewer' }, schema: { summary: 'Prometheus metrics', hide: true, response: errorResponses } }, async (_request, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.header('content-type', deps.metrics.registry.contentType).send(text);
    });

    app.get<{ Querystring: { minutes?: number } }>(
      '/api/v1/health',
      {
        config: { auth: 'viewer' },
        schema: {
          summary: 'Ingest counts per minute, DLQ size and consumer lag',
          tags: ['health'],
          querystring: { type: 'object', properties: { minutes: { type: 'integer', minimum: 1, maximum: 1440, default: 60 } } },
          response: { 200: pipelineHealthSchema, ...errorResponses },
        },
      },
      async (request) => {
        const minutes = request.query.minutes ?? 60;
        const counts = await pool.query<{ dataset: string; minute: Date; ingested: string; failed: string }>(
          `SELECT dataset, minute, ingested, failed FROM ingest_counts WHERE minute >= now() - make_interval(mins => $1) ORDER BY dataset, minute`,
          [minutes],
        );
        const dlq = await pool.query<{ dataset: string | null; n: string }>('SELECT dataset, count(*) AS n FROM dlq WHERE replayed_at IS NULL GROUP BY dataset');
        const byDataset = new Map<string, Array<{ minute: string; ingested: number; failed: number }>>();
        for (const r of counts.rows) {
          const list = byDataset.get(r.dataset) ?? [];
          list.push({ minute: r.minute.toISOString(), ingested: Number(r.ingested), failed: Number(r.failed) });
          byDataset.set(r.dataset, list);
        }
        let lag: Array<{ topic: string; partition: number; lag: number }> | { error: string };
        try {
          lag = await withTimeout('Kafka', deps.kafka.lag(), 5_000);
        } catch (error) {
          lag = { error: (error as Error).message };
        }
        return {
          minutes,
          datasets: [...byDataset].map(([dataset, perMinute]) => ({ dataset, perMinute })),
          dlq: { size: dlq.rows.reduce((n, r) => n + Number(r.n), 0), byDataset: Object.fromEntries(dlq.rows.map((r) => [r.dataset ?? '(unknown)', Number(r.n)])) },
          consumerLag: lag,
        };
      },
    );
    await Promise.resolve();
  };
}
