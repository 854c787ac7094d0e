/**
 * Where the next page is, per pagination style. Pages are identified by their full URL, which is also what
 * the checkpoint keeps as "next": resuming after a crash fetches exactly the page that was not committed.
 */
import { parseLinkHeader } from 'got';
import type { HttpPollSourceConfig } from '@sluice/shared/agent-config/http-poll';
import { atPath } from './dot-path.ts';

/** The first page of a chain: the configured URL, plus the page/offset start and the incremental watermark. */
export function firstPageUrl(config: HttpPollSourceConfig, watermark: string | undefined): string {
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
  config: HttpPollSourceConfig,
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
      const next = parseLinkHeader(value).find((link) => link.parameters.rel?.replace(/"/g, '') === 'next');
      return next === undefined ? undefined : new URL(next.reference, current).toString();
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
