/**
 * DLQ browse, counts and replay. Replay re-produces the original bytes (and original headers) to the topic
 * the record came from; if it fails again it dead-letters again, as a new entry with its new offset.
 *
 * Every replay is recorded (dlq_replays: when, which API key, where the copy landed). Replaying an entry
 * again is refused with 409 naming the earlier replay, unless the caller says `force: true`: a second copy
 * of a record the stores already hold is harmless (same id), but one of a record that failed again is a new
 * DLQ entry, so an accidental double click should not make one.
 */
import type { FastifyPluginAsync } from 'fastify';
import { BugError, ConflictError, NotFoundError, UnavailableError } from '@sluice/shared/errors';
import { errorResponses } from '@sluice/shared/api/error-body';
import {
  REASON_KINDS,
  dlqCountsSchema,
  dlqEntryDetailSchema,
  dlqListSchema,
  dlqReplayResponseSchema,
  type DlqEntryView,
  type DlqReplayView,
} from '@sluice/shared/api/dlq';
import { DLQ_HEADERS } from '../../consumer/dead-letters.ts';
import { withTransaction } from '../../db/transaction.ts';
import type { ServerDeps } from '../server-deps.ts';

interface DlqRow {
  id: string;
  dataset: string | null;
  record_id: string | null;
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  reason_kind: string;
  schema_version: number | null;
  original: Buffer;
  headers: Record<string, string>;
  created_at: Date;
  replayed_at: Date | null;
}

interface ReplayRow {
  replayed_at: Date;
  key_id: string;
  key_name: string;
  forced: boolean;
  topic: string;
  partition: number;
  offset: string;
}

function view(row: DlqRow): DlqEntryView {
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
    reasonKind: row.reason_kind as DlqEntryView['reasonKind'],
    schemaVersion: row.schema_version,
    headers: row.headers,
    size: row.original.length,
    originalBase64: row.original.toString('base64'),
    ...(isText ? { originalText: text.length > 64 * 1024 ? `${text.slice(0, 64 * 1024)}…` : text } : {}),
    createdAt: row.created_at.toISOString(),
    replayedAt: row.replayed_at?.toISOString() ?? null,
  };
}

function replayView(row: ReplayRow): DlqReplayView {
  return {
    replayedAt: row.replayed_at.toISOString(),
    keyId: row.key_id,
    keyName: row.key_name,
    forced: row.forced,
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
  };
}

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9]{1,19}$' } } } as const;
const reasonKindProperty = { enum: REASON_KINDS } as const;
const sinceProperty = { type: 'string', format: 'date-time', description: 'only entries created at or after this time' } as const;

export function dlqRoutes(deps: ServerDeps): FastifyPluginAsync {
  const replaysOf = async (id: string): Promise<ReplayRow[]> =>
    (await deps.pool.query<ReplayRow>('SELECT * FROM dlq_replays WHERE dlq_id = $1 ORDER BY id', [id])).rows;

  return async (app) => {
    app.get<{ Querystring: { dataset?: string; reasonKind?: string; limit?: number; before?: string } }>(
      '/dlq',
      {
        config: { auth: 'viewer' },
        schema: {
          summary: 'List dead-lettered records',
          tags: ['dlq'],
          querystring: {
            type: 'object',
            properties: {
              dataset: { type: 'string' },
              reasonKind: reasonKindProperty,
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
              before: { type: 'string', pattern: '^[0-9]{1,19}$', description: 'page: entries with a smaller id' },
            },
          },
          response: { 200: dlqListSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { dataset, reasonKind, limit = 50, before } = request.query;
        const filter = '($1::text IS NULL OR dataset = $1) AND ($2::text IS NULL OR reason_kind = $2)';
        const rows = await deps.pool.query<DlqRow>(`SELECT * FROM dlq WHERE ${filter} AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4`, [
          dataset ?? null,
          reasonKind ?? null,
          before ?? null,
          limit,
        ]);
        const total = await deps.pool.query<{ n: string }>(`SELECT count(*) AS n FROM dlq WHERE ${filter}`, [dataset ?? null, reasonKind ?? null]);
        return { total: Number(total.rows[0]?.n ?? 0), items: rows.rows.map(view) };
      },
    );

    // Mass failures at a glance: one row per reason kind, largest first, with the datasets it hits and the
    // latest reason as an example (reasons themselves name single records, so they do not group).
    app.get<{ Querystring: { dataset?: string; since?: string } }>(
      '/dlq/counts',
      {
        config: { auth: 'viewer' },
        schema: {
          summary: 'Dead-lettered records per dataset and reason',
          tags: ['dlq'],
          querystring: { type: 'object', properties: { dataset: { type: 'string' }, since: sinceProperty } },
          response: { 200: dlqCountsSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { dataset, since } = request.query;
        const result = await deps.pool.query<{ reason_kind: string; dataset: string | null; n: string; not_replayed: string; last_at: Date; example: string }>(
          `SELECT reason_kind, dataset, count(*) AS n, count(*) FILTER (WHERE replayed_at IS NULL) AS not_replayed, max(created_at) AS last_at,
                  (array_agg(reason ORDER BY id DESC))[1] AS example
           FROM dlq WHERE ($1::text IS NULL OR dataset = $1) AND ($2::timestamptz IS NULL OR created_at >= $2)
           GROUP BY reason_kind, dataset`,
          [dataset ?? null, since ?? null],
        );
        const kinds = new Map<string, { reasonKind: string; count: number; notReplayed: number; lastAt: Date; example: string; datasets: Array<{ dataset: string | null; count: number }> }>();
        for (const row of result.rows) {
          const n = Number(row.n);
          const kind = kinds.get(row.reason_kind) ?? { reasonKind: row.reason_kind, count: 0, notReplayed: 0, lastAt: row.last_at, example: row.example, datasets: [] };
          kind.count += n;
          kind.notReplayed += Number(row.not_replayed);
          if (row.last_at > kind.lastAt) Object.assign(kind, { lastAt: row.last_at, example: row.example });
          kind.datasets.push({ dataset: row.dataset, count: n });
          kinds.set(row.reason_kind, kind);
        }
        const byReasonKind = [...kinds.values()]
          .sort((a, b) => b.count - a.count || a.reasonKind.localeCompare(b.reasonKind))
          .map((k) => ({ ...k, lastAt: k.lastAt.toISOString(), datasets: k.datasets.sort((a, b) => b.count - a.count) }));
        return { total: byReasonKind.reduce((sum, k) => sum + k.count, 0), byReasonKind };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/dlq/:id',
      { config: { auth: 'viewer' }, schema: { summary: 'One dead-lettered record with its replays', tags: ['dlq'], params: idParams, response: { 200: dlqEntryDetailSchema, ...errorResponses } } },
      async (request) => {
        const found = await deps.pool.query<DlqRow>('SELECT * FROM dlq WHERE id = $1', [request.params.id]);
        const row = found.rows[0];
        if (!row) throw NotFoundError(`no DLQ entry ${request.params.id}`);
        return { ...view(row), replays: (await replaysOf(row.id)).map(replayView) };
      },
    );

    app.post<{ Params: { id: string }; Querystring: { force?: boolean }; Body: { force?: boolean } | undefined }>(
      '/dlq/:id/replay',
      {
        config: { auth: 'operator' },
        schema: {
          summary: 'Replay a dead-lettered record',
          tags: ['dlq'],
          params: idParams,
          querystring: { type: 'object', properties: { force: { type: 'boolean' } } },
          body: { type: ['object', 'null'], additionalProperties: false, properties: { force: { type: 'boolean', description: 'replay an entry that was replayed before' } } },
          response: { 200: dlqReplayResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const force = request.body?.force === true || request.query.force === true;
        // The hook let only an operator-or-above key or user through (config.auth), never an agent.
        const principal = request.principal;
        if (principal === undefined || principal.kind === 'agent') throw BugError('DLQ replay reached without an operator principal');
        // The row lock makes two concurrent replays of one entry take turns, so the second sees the first.
        const { row, replay } = await withTransaction(deps.pool, async (client) => {
          const found = await client.query<DlqRow>('SELECT * FROM dlq WHERE id = $1 FOR UPDATE', [request.params.id]);
          const row = found.rows[0];
          if (!row) throw NotFoundError(`no DLQ entry ${request.params.id}`);
          const previous = (await client.query<ReplayRow>('SELECT * FROM dlq_replays WHERE dlq_id = $1 ORDER BY id DESC LIMIT 1', [row.id])).rows[0];
          if ((previous || row.replayed_at) && !force) throw alreadyReplayed(row, previous);
          const headers = Object.fromEntries(Object.entries(row.headers).filter(([k]) => !(Object.values(DLQ_HEADERS) as string[]).includes(k)));
          let landed: { topic: string; partition: number; offset: bigint };
          try {
            landed = await deps.produceOne({ topic: row.topic, key: row.record_id ?? `${row.topic}:${row.partition}:${row.offset}`, value: row.original, headers });
          } catch (error) {
            throw UnavailableError('Kafka is unreachable; the entry was not replayed', { retryAfterSeconds: 5 }, { cause: error });
          }
          const inserted = await client.query<ReplayRow>(
            `INSERT INTO dlq_replays (dlq_id, key_id, key_name, forced, topic, partition, "offset") VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
            [row.id, principal.id, principal.name, previous !== undefined || row.replayed_at !== null, landed.topic, landed.partition, landed.offset.toString()],
          );
          const replay = inserted.rows[0]!;
          const updated = await client.query<DlqRow>('UPDATE dlq SET replayed_at = $2 WHERE id = $1 RETURNING *', [row.id, replay.replayed_at]);
          return { row: updated.rows[0] ?? row, replay };
        });
        request.log.info({ dlqId: row.id, keyId: principal.id, forced: replay.forced, topic: replay.topic, partition: replay.partition, offset: replay.offset }, 'DLQ entry replayed');
        return { ...view(row), replay: replayView(replay), replays: (await replaysOf(row.id)).map(replayView) };
      },
    );
    await Promise.resolve();
  };
}

function alreadyReplayed(row: DlqRow, previous: ReplayRow | undefined): Error {
  const when = (previous?.replayed_at ?? row.replayed_at)!.toISOString();
  const detail = previous ? ` by ${previous.key_name} (key ${previous.key_id}) to ${previous.topic} partition ${previous.partition} offset ${previous.offset}` : '';
  return ConflictError(`DLQ entry ${row.id} was already replayed at ${when}${detail}; send {"force": true} to replay it again`, {
    replayedAt: when,
    ...(previous ? { last: replayView(previous) } : {}),
  });
}
