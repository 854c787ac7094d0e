import { describe, expect, it } from 'vitest';
import { nextLink, nextPageUrl } from './http-pagination.ts';

describe('http pagination', () => {
  it('finds rel=next in a Link header among other relations and parameters', () => {
    expect(nextLink('<https://api.example.com/items?page=3>; rel="next", <https://api.example.com/items?page=1>; rel="prev"')).toBe('https://api.example.com/items?page=3');
    expect(nextLink('</items?page=1>; rel="prev", </items?page=3>; title="x"; rel="next last"')).toBe('/items?page=3');
    expect(nextLink('<https://api.example.com/items?page=1>; rel=prev')).toBeUndefined();
    expect(nextLink('')).toBeUndefined();
  });

  it('resolves a relative next link against the current page', () => {
    const next = nextPageUrl({ url: 'https://api.example.com/v1/items', pagination: { type: 'link-header' } }, 'https://api.example.com/v1/items?page=2', { headers: { link: '</v1/items?page=3>; rel="next"' } }, [], 10);
    expect(next).toBe('https://api.example.com/v1/items?page=3');
  });
});
