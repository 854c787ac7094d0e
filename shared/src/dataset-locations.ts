/**
 * The store locations a dataset owns: its PostgreSQL table, its search index prefix (daily indices
 * `<prefix>-YYYY.MM.DD`, read and mapped as `<prefix>-*`), its object key prefix (`<prefix>/dt=…`) and its raw
 * input topic (`input.topic`: two datasets reading one topic would each load every message). Each
 * location belongs to one dataset; a second dataset naming it would have its records land among the first
 * one's, so a publish that claims an owned location is refused. Pure functions: the control plane checks a
 * publish with them, the console can check a form before sending it.
 */
import type { DatasetSpec } from './dataset.ts';

export type StoreKind = 'postgres' | 'search' | 'objectStore';

export interface StoreLocation {
  store: StoreKind;
  /** Table name, index prefix or object key prefix, defaults applied (an object prefix without trailing `/`). */
  location: string;
  /** Where the spec says it (or would, when the default applies), for messages: `sinks.objectStore.prefix`. */
  field: string;
}

/**
 * Object key prefixes the object store keeps for itself: whole-file blobs (`blobs/<sha256>`) and their
 * chunks while they arrive (`_chunks/…`). A dataset's segments there could overwrite or be taken for them.
 */
export const RESERVED_OBJECT_PREFIXES: readonly string[] = ['blobs', '_chunks'];

/** The locations of the sinks the dataset enables; a disabled sink writes nowhere and claims nothing. */
export function storeLocations(spec: DatasetSpec): StoreLocation[] {
  const { postgres, search, objectStore } = spec.sinks;
  const out: StoreLocation[] = [];
  if (postgres?.enabled) out.push({ store: 'postgres', location: postgres.table ?? spec.name, field: 'sinks.postgres.table' });
  if (search?.enabled) out.push({ store: 'search', location: search.index ?? `sluice-${spec.name}`, field: 'sinks.search.index' });
  if (objectStore?.enabled) {
    out.push({ store: 'objectStore', location: (objectStore.prefix ?? spec.name).replace(/\/+$/, ''), field: 'sinks.objectStore.prefix' });
  }
  return out;
}

/**
 * What is wrong with the names a spec turns into keys, tables and indices, one sentence each (empty when
 * nothing). The spec's JSON Schema already limits the characters; this is what a character class cannot say.
 */
export function locationProblems(spec: DatasetSpec): string[] {
  const problems: string[] = [];
  const prefix = spec.sinks.objectStore?.prefix;
  if (prefix !== undefined) {
    const segments = prefix.replace(/\/+$/, '').split('/');
    // Object stores on a file system (MinIO) resolve `.` and `..`: `a/../../x` would leave the bucket's tree.
    if (segments.some((s) => s === '.' || s === '..')) problems.push(`sinks.objectStore.prefix ${JSON.stringify(prefix)}: a segment may not be "." or ".."`);
    if (segments.some((s) => s === '')) problems.push(`sinks.objectStore.prefix ${JSON.stringify(prefix)}: empty segment ("//")`);
  }
  if (spec.input !== undefined && spec.input.topic.startsWith('sluice.')) {
    problems.push(`input.topic ${JSON.stringify(spec.input.topic)}: topics under sluice. are the datasets' own; a raw input topic is a third party's`);
  }
  for (const claim of storeLocations(spec)) {
    if (claim.store !== 'objectStore') continue;
    const first = claim.location.split('/')[0] ?? '';
    if (RESERVED_OBJECT_PREFIXES.includes(first)) {
      problems.push(`${claim.field} ${JSON.stringify(claim.location)}: ${first}/ is reserved for the object store's blobs${prefix === undefined ? ' (the prefix defaults to the dataset name; set another one)' : ''}`);
    }
  }
  return problems;
}

/**
 * Whether two datasets would write to the same place. Tables: the same name. Index prefixes: the same, or
 * one followed by `-` starts the other (`logs-*` also matches `logs-eu-2026.01.01`). Object prefixes: the
 * same, or one is the other's folder (`a` and `a/b`, not `a` and `ab`).
 */
export function locationsOverlap(a: ClaimedLocation, b: ClaimedLocation): boolean {
  if (a.store !== b.store) return false;
  if (a.location === b.location) return true;
  if (a.store === 'postgres' || a.store === 'kafkaInput') return false;
  const boundary = a.store === 'search' ? '-' : '/';
  return a.location.startsWith(b.location + boundary) || b.location.startsWith(a.location + boundary);
}

/** What a dataset claims for itself: its store locations and its raw input topic. */
export interface ClaimedLocation {
  store: StoreKind | 'kafkaInput';
  location: string;
  field: string;
}

function claimedLocations(spec: DatasetSpec): ClaimedLocation[] {
  const out: ClaimedLocation[] = storeLocations(spec);
  if (spec.input) out.push({ store: 'kafkaInput', location: spec.input.topic, field: 'input.topic' });
  return out;
}

/** The first location of `spec` that one of `others` already owns, with its owner; undefined when none. */
export function findLocationOwner(
  spec: DatasetSpec,
  others: Iterable<DatasetSpec>,
): { claim: ClaimedLocation; owner: string; owned: ClaimedLocation } | undefined {
  const claims = claimedLocations(spec);
  for (const other of others) {
    if (other.name === spec.name) continue;
    for (const owned of claimedLocations(other)) {
      const claim = claims.find((c) => locationsOverlap(c, owned));
      if (claim) return { claim, owner: other.name, owned };
    }
  }
  return undefined;
}
