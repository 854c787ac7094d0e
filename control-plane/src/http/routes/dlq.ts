/**
 * DLQ browse and replay. Replay re-produces the original bytes (and original headers) to the topic the
 * record came from; if it fails again it dead-letters again, as a new entry with its new offset.
 */
import type { FastifyPluginAsync } from 'fastify';
import { NotFoundError, UnavailableError } from '@sluice/shared/errors';
import { DLQ_HEADERS } from '../../consumer/dead-letters.ts';
import type { ServerDeps } from '../server.ts';

interface DlqRow {
  id: string;
  dataset: string | null;
  record_id: string | null;
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  schema_version: number | null;
  original: Buffer;
  headers: Record<string, string>;
  created_at: Date;
  replayed_at: Date | null;
}

function view(row: DlqRow): Record<string, unknown> {
  const text = row.original.toString('utf8');
  // Valid UTF-8 round-trips; poison bytes are shown base64 only.
  const isText = Buffer.from(text, 'utf8').equals(row.original);
  return {
    id: row.id,
    dataset: row.dataset,
    recordId: row.record_id,
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    reason: row.reason,
    schemaVersion: row.schema_version,
    headers: row.headers,
    size: row.original.length,
    originalBase64: row.original.toString('base64'),
    ...(isText ? { originalText: text.length > 64 * 1024 ? `${text.slice(0, 64 * 1024)}…` : text } : {}),
    createdAt: row.created_at.toISOString(),
    replayedAt: row.replayed_at?.toISOString() ?? null,
  };
}

export function dlqRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { dataset?: string; limit?: number; before?: string } }>(
      '/dlq',
      {
        config: { role: 'viewer' },
        schema: {
          tags: ['dlq'],
          querystring: {
            type: 'object',
            properties: {
              dataset: { type: 'string' },
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
              before: { type: 'string', pattern: '^[0-9]{1,19}$', description: 'page: entries with a smaller id' },
            },
          },
        },
      },
      async (request) => {
        const { dataset, limit = 50, before } = request.query;
        const rows = await deps.pool.query<DlqRow>(
          `SELECT * FROM dlq WHERE ($1::text IS NULL OR dataset = $1) AND ($2::bigint IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3`,
          [dataset ?? null, before ?? null, limit],
        );
        const total = await deps.pool.query<{ n: string }>('SELECT count(*) AS n FROM dlq WHERE ($1::text IS NULL OR dataset = $1)', [dataset ?? null]);
        return { total: Number(total.rows[0]?.n ?? 0), items: rows.rows.map(view) };
      },
    );

    app.post<{ Params: { id: string } }>(
      '/dlq/:id/replay',
      { config: { role: 'operator' }, schema: { tags: ['dlq'], params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,19}$' } } } } },
      async (request) => {
        const found = await deps.pool.query<DlqRow>('SELECT * FROM dlq WHERE id = $1', [request.params.id]);
        const row = found.rows[0];
        if (!row) throw NotFoundError(`no DLQ entry ${request.params.id}`);
        const headers = Object.fromEntries(Object.entries(row.headers).filter(([k]) => !(Object.values(DLQ_HEADERS) as string[]).includes(k)));
        try {
          await deps.produce([{ topic: row.topic, key: row.record_id ?? `${row.topic}:${row.partition}:${row.offset}`, value: row.original, headers }]);
        } catch (error) {
          throw UnavailableError('Kafka is unreachable; the entry was not replayed', { retryAfterSeconds: 5 }, { cause: error });
        }
        const updated = await deps.pool.query<DlqRow>('UPDATE dlq SET replayed_at = now() WHERE id = $1 RETURNING *', [row.id]);
        return view(updated.rows[0] ?? row);
      },
    );
    await Promise.resolve();
  };
}
