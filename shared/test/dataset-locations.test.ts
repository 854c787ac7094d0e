import { describe, expect, it } from 'vitest';
import type { DatasetSpec } from '../src/dataset.ts';
import { findLocationOwner, locationProblems, locationsOverlap, storeLocations, type StoreLocation } from '../src/dataset-locations.ts';

const at = (store: StoreLocation['store'], location: string): StoreLocation => ({ store, location, field: '' });

describe('dataset store locations', () => {
  it('applies the defaults of enabled sinks only', () => {
    const spec: DatasetSpec = { name: 'orders', sinks: { postgres: { enabled: true }, search: { enabled: true }, objectStore: { enabled: false, prefix: 'x', partitionBy: 'hour' } } };
    expect(storeLocations(spec).map((l) => [l.store, l.location])).toEqual([
      ['postgres', 'orders'],
      ['search', 'sluice-orders'],
    ]);
    expect(storeLocations({ name: 'o', sinks: { objectStore: { enabled: true, prefix: 'lake/o//', partitionBy: 'hour' } } })[0]?.location).toBe('lake/o');
  });

  it('overlaps at a boundary only', () => {
    expect(locationsOverlap(at('objectStore', 'a'), at('objectStore', 'a/b'))).toBe(true);
    expect(locationsOverlap(at('objectStore', 'a/b'), at('objectStore', 'a'))).toBe(true);
    expect(locationsOverlap(at('objectStore', 'a'), at('objectStore', 'ab'))).toBe(false);
    expect(locationsOverlap(at('search', 'logs'), at('search', 'logs-eu'))).toBe(true);
    expect(locationsOverlap(at('search', 'logs'), at('search', 'logs_eu'))).toBe(false);
    expect(locationsOverlap(at('postgres', 'a'), at('postgres', 'a_b'))).toBe(false);
    expect(locationsOverlap(at('postgres', 'a'), at('objectStore', 'a'))).toBe(false);
  });

  it('names the owner of a claimed location', () => {
    const owner: DatasetSpec = { name: 'a', sinks: { objectStore: { enabled: true, partitionBy: 'hour' } } };
    const taken = findLocationOwner({ name: 'b', sinks: { objectStore: { enabled: true, prefix: 'a/b', partitionBy: 'hour' } } }, [owner]);
    expect(taken).toMatchObject({ owner: 'a', claim: { location: 'a/b' }, owned: { location: 'a' } });
    expect(findLocationOwner({ name: 'b', sinks: { objectStore: { enabled: true, partitionBy: 'hour' } } }, [owner])).toBeUndefined();
  });

  it('refuses dot segments, empty segments and the blob area', () => {
    expect(locationProblems({ name: 'x', sinks: { objectStore: { enabled: true, prefix: 'a/../../x', partitionBy: 'hour' } } })).toEqual(['sinks.objectStore.prefix "a/../../x": a segment may not be "." or ".."']);
    expect(locationProblems({ name: 'x', sinks: { objectStore: { enabled: true, prefix: 'a//b', partitionBy: 'hour' } } })).toHaveLength(1);
    expect(locationProblems({ name: 'blobs', sinks: { objectStore: { enabled: true, partitionBy: 'hour' } } })).toEqual([expect.stringContaining('reserved')]);
    expect(locationProblems({ name: 'x', sinks: { objectStore: { enabled: true, prefix: 'a..b/c.d/', partitionBy: 'hour' } } })).toEqual([]);
  });
});
