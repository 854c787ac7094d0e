/**
 * DLQ browse, counts, dry run and replay (one entry, chosen entries, or every entry of a filter). The
 * replay itself, its record and its refusal of a second replay are in dlq/replay.ts; the dry run in
 * dlq/dry-run.ts.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { BugError, NotFoundError } from '@sluice/shared/errors';
import { errorResponses } from '@sluice/shared/api/error-body';
import { dlqCountsSchema, dlqEntryDetailSchema, dlqListSchema, dlqReplayResponseSchema } from '@sluice/shared/api/dlq';
import {
  dlqBulkReplayBodySchema,
  dlqBulkReplayResponseSchema,
  dlqDryRunBodySchema,
  dlqDryRunResponseSchema,
  dlqFilterSchema,
  type DlqBulkReplayBody,
  type DlqDryRunBody,
  type DlqFilter,
} from '@sluice/shared/api/dlq-bulk';
import { replayMany } from '../../dlq/bulk-replay.ts';
import { DlqDryRun } from '../../dlq/dry-run.ts';
import { entryView, replayView, type DlqRow, type ReplayRow } from '../../dlq/dlq-rows.ts';
import { selectionOf, whereOf } from '../../dlq/dlq-selection.ts';
import { replayEntry, type Operator } from '../../dlq/replay.ts';
import type { ServerDeps } from '../server-deps.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9]{1,19}$' } } } as const;

/** The hook let only an operator-or-above key or user through (config.auth: 'operator'), never an agent. */
function operatorOf(request: FastifyRequest): Operator {
  const principal = request.principal;
  if (principal === undefined || principal.kind === 'agent') throw BugError('a DLQ replay reached without an operator principal');
  return principal;
}

export function dlqRoutes(deps: ServerDeps): FastifyPluginAsync {
  const replaysOf = async (id: string): Promise<ReplayRow[]> =>
    (await deps.pool.query<ReplayRow>('SELECT * FROM dlq_replays WHERE dlq_id = $1 ORDER BY id', [id])).rows;
  const dryRun = new DlqDryRun(deps);

  return async (app) => {
    app.get<{ Querystring: DlqFilter & { limit?: number; before?: string } }>(
      '/dlq',
      {
        config: { auth: 'viewer' },
        schema: {
          summary: 'List dead-lettered records, newest first',
          tags: ['dlq'],
          querystring: {
            type: 'object',
            properties: {
              ...dlqFilterSchema.properties,
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
              before: { type: 'string', pattern: '^[0-9]{1,19}$', description: 'page: entries with a smaller id' },
            },
          },
          response: { 200: dlqListSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { limit = 50, before, ...filter } = request.query;
        const params: unknown[] = [];
        const where = whereOf({ filter }, params);
        const total = await deps.pool.query<{ n: string }>(`SELECT count(*) AS n FROM dlq WHERE ${where}`, params);
        params.push(before ?? null, limit);
        const rows = await deps.pool.query<DlqRow>(`SELECT * FROM dlq WHERE ${where} AND ($${params.length - 1}::bigint IS NULL OR id < $${params.length - 1}) ORDER BY id DESC LIMIT $${params.length}`, params);
        return { total: Number(total.rows[0]?.n ?? 0), items: rows.rows.map(entryView) };
      },
    );

    // Mass failures at a glance: one row per reason kind, largest first, with the datasets it hits and the
    // latest reason as an example (reasons themselves name single records, so they do not group).
    app.get<{ Querystring: Pick<DlqFilter, 'dataset' | 'since' | 'until'> }>(
      '/dlq/counts',
      {
        config: { auth: 'viewer' },
        schema: {
          summary: 'Dead-lettered records per dataset and reason',
          tags: ['dlq'],
          querystring: { type: 'object', properties: { dataset: { type: 'string' }, since: dlqFilterSchema.properties.since, until: dlqFilterSchema.properties.until } },
          response: { 200: dlqCountsSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { dataset, since, until } = request.query;
        const params: unknown[] = [];
        const where = whereOf({ filter: { dataset, since, until } }, params);
        const result = await deps.pool.query<{ reason_kind: string; dataset: string | null; n: string; not_replayed: string; last_at: Date; example: string }>(
          `SELECT reason_kind, dataset, count(*) AS n, count(*) FILTER (WHERE replayed_at IS NULL) AS not_replayed, max(created_at) AS last_at,
                  (array_agg(reason ORDER BY id DESC))[1] AS example
           FROM dlq WHERE ${where} GROUP BY reason_kind, dataset`,
          params,
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
        return { ...entryView(row), replays: (await replaysOf(row.id)).map(replayView) };
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
        const by = operatorOf(request);
        const { row, replay } = await replayEntry(deps, { id: request.params.id, by, force, requestId: request.id });
        request.log.info({ dlqId: row.id, keyId: by.id, forced: replay.forced, topic: replay.topic, partition: replay.partition, offset: replay.offset }, 'DLQ entry replayed');
        return { ...entryView(row), replay: replayView(replay), replays: (await replaysOf(row.id)).map(replayView) };
      },
    );

    app.post<{ Body: DlqDryRunBody }>(
      '/dlq/dry-run',
      {
        config: { auth: 'operator' },
        schema: {
          summary: 'How many of the chosen entries (or of a filter) the consumer would now take, against the latest or a chosen schema version; changes nothing',
          tags: ['dlq'],
          body: dlqDryRunBodySchema,
          response: { 200: dlqDryRunResponseSchema, ...errorResponses },
        },
      },
      (request) => {
        const { against, limit = 10_000, samples = 5 } = request.body;
        return dryRun.run({ selection: selectionOf(request.body), against, limit, samples });
      },
    );

    app.post<{ Body: DlqBulkReplayBody }>(
      '/dlq/replay',
      {
        config: { auth: 'operator' },
        schema: {
          summary: 'Replay chosen entries, or up to `limit` never-replayed entries of a filter (send again while `remaining` > 0)',
          tags: ['dlq'],
          body: dlqBulkReplayBodySchema,
          response: { 200: dlqBulkReplayResponseSchema, ...errorResponses },
        },
      },
      async (request) => {
        const by = operatorOf(request);
        const answer = await replayMany(deps, { selection: selectionOf(request.body), limit: request.body.limit ?? 100, force: request.body.force === true, through: request.body.through, by, requestId: request.id });
        request.log.info({ keyId: by.id, replayed: answer.replayed.length, skipped: answer.skipped.length, remaining: answer.remaining }, 'DLQ entries replayed');
        return answer;
      },
    );
    await Promise.resolve();
  };
}
