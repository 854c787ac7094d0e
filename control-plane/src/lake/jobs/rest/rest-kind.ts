/**
 * `rest`: a REST API read page by page with the http-poll source's pagination (shared/node/http-pagination.ts),
 * optionally over a time range cut into slices — one batch per slice, which walks that slice's pages. Record
 * ids as the poller makes them (shared/node/record-key.ts): from the record's `idField` value, or from its
 * content and the endpoint; so a re-run, or a batch a crashed worker left behind, names every record the same,
 * however the pages fall.
 *
 * A page's 5xx, 429 or network error is tried again a few times, then the batch (with backoff, by the worker);
 * any other non-2xx answer fails the batch with what the API said. A page that is not JSON, or has no array at
 * `recordsPath`, goes to the DLQ as one record and ends its slice. Secrets come from the worker's environment
 * (`SLUICE_JOB_*` variables named in `auth`), never from the job.
 */
import { InputError } from '@sluice/shared/errors';
import { atPath } from '@sluice/shared/dot-path';
import { firstPageUrl, nextPageUrl } from '@sluice/shared/node/http-pagination';
import { recordId } from '@sluice/shared/record-id';
import { RecordKeys } from '@sluice/shared/node/record-key';
import { withRetry } from '@sluice/shared/node/retry';
import { restSourceSchema, type RestSource } from '@sluice/shared/api/jobs';
import { fingerprint } from '@sluice/shared/node/fingerprint';
import { fetchOrRetry, readBody } from '../http-fetch.ts';
import { JOB_AGENT_ID } from '../publish.ts';
import type { JobKind, JobRecord } from '../registry.ts';

const MAX_SLICES = 10_000;
const MAX_PAGE_BYTES = 64 * 1024 * 1024;
const TIMEOUT_MS = 60_000;
const PAGE_RETRIES = 3;
const MAX_RAW = 64 * 1024;

export interface RestBatchInput {
  /** The slice, when the job has a range. */
  from?: string;
  to?: string;
  /** Every record's event time: the planning time, so a batch run again publishes the very same envelopes. */
  plannedAt: string;
}

function slices(range: NonNullable<RestSource['range']>): Array<{ from: string; to?: string }> {
  const from = Date.parse(range.from);
  const to = Date.parse(range.to);
  if (range.toParam === undefined) return [{ from: range.from }];
  const step = (range.sliceMinutes ?? 1440) * 60_000;
  const out: Array<{ from: string; to: string }> = [];
  for (let start = from; start < to; start += step) out.push({ from: new Date(start).toISOString(), to: new Date(Math.min(start + step, to)).toISOString() });
  return out;
}

function secret(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`auth: the environment variable ${name} is not set on this worker`);
  return value;
}

function requestHeaders(spec: RestSource): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json', ...spec.headers };
  const auth = spec.auth;
  if (auth === undefined) return headers;
  if ('bearerEnv' in auth) headers.authorization = `Bearer ${secret(auth.bearerEnv)}`;
  else if ('basic' in auth) headers.authorization = `Basic ${Buffer.from(`${auth.basic.username}:${secret(auth.basic.passwordEnv)}`).toString('base64')}`;
  else headers[auth.apiKey.header.toLowerCase()] = secret(auth.apiKey.valueEnv);
  return headers;
}

/** The API's origin and path: what names it in record ids (the query changes per page and may hold a key). */
function endpointOf(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

export const restKind: JobKind<RestSource, RestBatchInput> = {
  kind: 'rest',
  specSchema: restSourceSchema,
  validate(spec) {
    if (spec.range === undefined) return;
    const from = Date.parse(spec.range.from);
    const to = Date.parse(spec.range.to);
    if (!(from < to)) throw InputError('source.range: `from` must be before `to`');
    const count = Math.ceil((to - from) / ((spec.range.sliceMinutes ?? 1440) * 60_000));
    if (spec.range.toParam !== undefined && count > MAX_SLICES) throw InputError(`source.range: ${count} slices, at most ${MAX_SLICES}: raise sliceMinutes`);
  },
  plan(job) {
    const plannedAt = new Date().toISOString();
    if (job.spec.range === undefined) return Promise.resolve([{ key: 'rest:all', input: { plannedAt } }]);
    return Promise.resolve(slices(job.spec.range).map((s) => ({ key: `rest:${s.from}`, input: { ...s, plannedAt } })));
  },
  async run(batch, ctx) {
    const spec = batch.spec;
    const endpoint = endpointOf(spec.url);
    const sourceId = `rest-${fingerprint('rest', endpoint).slice(0, 16)}`;
    const keys = new RecordKeys(endpoint, spec.idField);
    const headers = requestHeaders(spec);
    const paged = { url: spec.url, pagination: spec.pagination ?? { type: 'none' as const } };
    const first = new URL(firstPageUrl(paged, undefined));
    if (spec.range !== undefined && batch.input.from !== undefined) {
      first.searchParams.set(spec.range.param, batch.input.from);
      if (spec.range.toParam !== undefined && batch.input.to !== undefined) first.searchParams.set(spec.range.toParam, batch.input.to);
    }
    const maxPages = spec.maxPages ?? 10_000;
    const seen = new Set<string>();
    const errors: Array<{ position: string; reason: string }> = [];
    let records = 0;
    let bytes = 0;
    let url: string | undefined = first.toString();
    for (let page = 1; url !== undefined; page++) {
      ctx.signal.throwIfAborted();
      if (page > maxPages) {
        errors.push({ position: `page ${page}`, reason: `stopped after maxPages (${maxPages}) pages` });
        break;
      }
      seen.add(url);
      const current: string = url;
      const { response, raw } = await withRetry(
        async () => {
          const r = await fetchOrRetry(current, { headers }, ctx.signal, TIMEOUT_MS);
          if (!r.ok) {
            const text = (await r.text()).slice(0, 500);
            throw new Error(`page ${page} (${endpoint}) answered ${r.status} ${r.statusText}${text === '' ? '' : `: ${text}`}`);
          }
          return { response: r, raw: await readBody(r, endpoint, MAX_PAGE_BYTES) };
        },
        { retries: PAGE_RETRIES, minDelayMs: 500, maxDelayMs: 10_000, signal: ctx.signal },
      );
      bytes += raw.length;
      const position = { endpoint, page };
      const broken = (reason: string): JobRecord => ({
        id: recordId.poll(JOB_AGENT_ID, sourceId, keys.parseError(current, raw.toString('utf8'))),
        eventTime: batch.input.plannedAt,
        position,
        parseError: { reason, raw: raw.subarray(0, MAX_RAW).toString('base64'), rawEncoding: 'base64' },
      });
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (error) {
        const reason = `page ${page} is not JSON: ${(error as Error).message}`;
        await ctx.publish([broken(reason)]);
        errors.push({ position: `page ${page}`, reason });
        break;
      }
      const items = atPath(body, spec.recordsPath ?? '');
      if (!Array.isArray(items)) {
        const reason = `page ${page} has no array at recordsPath ${JSON.stringify(spec.recordsPath ?? '')}`;
        await ctx.publish([broken(reason)]);
        errors.push({ position: `page ${page}`, reason });
        break;
      }
      const found = items.map((item: unknown, index): JobRecord => {
        const keyed = keys.of(item);
        const base = { id: recordId.poll(JOB_AGENT_ID, sourceId, keyed.key), eventTime: batch.input.plannedAt, position: { ...position, index } };
        if (keyed.problem === undefined) return { ...base, payload: item };
        errors.push({ position: `page ${page} item ${index}`, reason: keyed.problem });
        return { ...base, parseError: { reason: keyed.problem, raw: JSON.stringify(item).slice(0, MAX_RAW) } };
      });
      await ctx.publish(found);
      records += found.length;
      ctx.progress({ records: found.length, bytes: raw.length });
      const next = nextPageUrl(paged, current, { headers: Object.fromEntries(response.headers) }, body, items.length);
      if (next !== undefined && seen.has(next)) {
        errors.push({ position: `page ${page}`, reason: `pagination loops: the next page is ${endpointOf(next)} again` });
        break;
      }
      url = next;
    }
    return { records, bytes, errors };
  },
};
