/**
 * `urls`: a list of http(s) URLs, each one file of NDJSON or a JSON array (gunzipped when the path ends in
 * `.gz`). Record ids from the URL and its ETag (or, without one, the body's sha256) plus the record's
 * position: the same body read again yields the same ids. A 5xx, 429 or network error is tried again; any
 * other non-2xx answer is a permanent error of that URL (listed with the batch; the others still load).
 */
import { createHash } from 'node:crypto';
import { urlsSourceSchema, type UrlsSource } from '@sluice/shared/api/jobs';
import { fileRecords, maybeGunzip } from '../file-records.ts';
import { fingerprint } from '@sluice/shared/node/fingerprint';
import { fetchOrRetry, readBody } from '../http-fetch.ts';
import type { JobKind } from '../registry.ts';

const URLS_PER_BATCH = 16;
const MAX_BODY_BYTES = 512 * 1024 * 1024;
const TIMEOUT_MS = 120_000;

export interface UrlsBatchInput {
  urls: string[];
  /**
   * Event time of a body served without Last-Modified: the planning time, stored with the batch, so a batch
   * run again (a worker died) publishes the very same envelopes.
   */
  plannedAt?: string;
}

export const urlsKind: JobKind<UrlsSource, UrlsBatchInput> = {
  kind: 'urls',
  specSchema: urlsSourceSchema,
  plan(job) {
    const plannedAt = new Date().toISOString();
    const batches = [];
    for (let i = 0; i < job.spec.urls.length; i += URLS_PER_BATCH) {
      batches.push({ key: `urls:${i}`, input: { urls: job.spec.urls.slice(i, i + URLS_PER_BATCH), plannedAt } });
    }
    return Promise.resolve(batches);
  },
  async run(batch, ctx) {
    let records = 0;
    let bytes = 0;
    const errors: Array<{ position: string; reason: string }> = [];
    for (const url of batch.input.urls) {
      ctx.signal.throwIfAborted();
      const response = await fetchOrRetry(url, {}, ctx.signal, TIMEOUT_MS);
      if (!response.ok) {
        await response.body?.cancel();
        errors.push({ position: url, reason: `answered ${response.status} ${response.statusText}` });
        continue;
      }
      const raw = await readBody(response, url, MAX_BODY_BYTES);
      const version = response.headers.get('etag') ?? createHash('sha256').update(raw).digest('hex');
      let content: Buffer;
      try {
        content = maybeGunzip(new URL(url).pathname, raw);
      } catch (error) {
        errors.push({ position: url, reason: `not gzip: ${(error as Error).message}` });
        continue;
      }
      const lastModified = Date.parse(response.headers.get('last-modified') ?? '');
      const found = fileRecords(content, {
        sourceId: 'lake-urls',
        fingerprint: fingerprint('url', url, version),
        format: batch.spec.format ?? 'auto',
        eventTime: Number.isNaN(lastModified) ? (batch.input.plannedAt ?? new Date().toISOString()) : new Date(lastModified).toISOString(),
        position: { url },
      });
      for (const r of found) if (r.parseError) errors.push({ position: `${url} ${String(r.position.line ?? r.position.index)}`, reason: r.parseError.reason });
      await ctx.publish(found);
      records += found.length;
      bytes += raw.length;
      ctx.progress({ records: found.length, bytes: raw.length });
    }
    return { records, bytes, errors };
  },
};
