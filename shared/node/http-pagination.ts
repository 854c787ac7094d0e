/**
 * Where the next page is, per pagination style (the `pagination` of an http-poll source and of a `rest`
 * ingestion job). Pages are identified by their full URL, which is also what the poller's checkpoint keeps as
 * "next": resuming after a crash fetches exactly the page that was not committed.
 */
import type { HttpPollSourceConfig } from '@sluice/shared/agent-config/http-poll';
import { atPath } from '@sluice/shared/dot-path';

/** What finding pages needs of a config: the URL, the pagination, and the incremental watermark parameter. */
export type PagedRequest = Pick<HttpPollSourceConfig, 'url' | 'pagination'> & { incremental?: Pick<NonNullable<HttpPollSourceConfig['incremental']>, 'param'> | undefined };

/** The first page of a chain: the configured URL, plus the page/offset start and the incremental watermark. */
export function firstPageUrl(config: PagedRequest, watermark: string | undefined): string {
  const url = new URL(config.url);
  const { pagination } = config;
  if (pagination.type === 'page') {
    url.searchParams.set(pagination.param, String(pagination.startAt));
    if (pagination.sizeParam !== undefined) url.searchParams.set(pagination.sizeParam, String(pagination.size));
  } else if (pagination.type === 'offset') {
    url.searchParams.set(pagination.param, '0');
    url.searchParams.set(pagination.limitParam, String(pagination.limit));
  }
  if (config.incremental && watermark !== undefined) url.searchParams.set(config.incremental.param, watermark);
  return url.toString();
}

/**
 * The page after `current`, or undefined at the end. `more` is false when the page says it is the last
 * (empty, or shorter than the page size).
 */
export function nextPageUrl(
  config: PagedRequest,
  current: string,
  response: { headers: Record<string, string | string[] | undefined> },
  body: unknown,
  count: number,
): string | undefined {
  const { pagination } = config;
  switch (pagination.type) {
    case 'none':
      return undefined;
    case 'link-header': {
      const header = response.headers.link;
      const value = Array.isArray(header) ? header.join(', ') : header;
      if (value === undefined || value === '') return undefined;
      const next = nextLink(value);
      return next === undefined ? undefined : new URL(next, current).toString();
    }
    case 'cursor': {
      const cursor = atPath(body, pagination.cursorPath);
      if (cursor === undefined || cursor === null || cursor === '') return undefined;
      const url = new URL(current);
      url.searchParams.set(pagination.param, typeof cursor === 'string' ? cursor : JSON.stringify(cursor));
      return url.toString();
    }
    case 'page': {
      const { size } = pagination;
      if (count === 0 || (pagination.sizeParam !== undefined && count < size)) return undefined;
      const url = new URL(current);
      const page = Number(url.searchParams.get(pagination.param) ?? pagination.startAt);
      url.searchParams.set(pagination.param, String(page + 1));
      return url.toString();
    }
    case 'offset': {
      const { limit } = pagination;
      if (count === 0 || count < limit) return undefined;
      const url = new URL(current);
      const offset = Number(url.searchParams.get(pagination.param) ?? 0);
      url.searchParams.set(pagination.param, String(offset + count));
      return url.toString();
    }
  }
}

/** The `rel=next` target of an RFC 8288 Link header (`<url>; rel="next", <url>; rel="prev"`), or undefined. */
export function nextLink(header: string): string | undefined {
  for (const match of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const params = match[2] ?? '';
    for (const p of params.split(';')) {
      const [name, raw] = p.split('=', 2).map((x) => x.trim());
      if (name?.toLowerCase() === 'rel' && raw !== undefined && raw.replace(/"/g, '').split(/\s+/).includes('next')) return match[1];
    }
  }
  return undefined;
}
