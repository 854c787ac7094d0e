import { canonicalJson } from './canonical-json.ts';

/**
 * The Kafka key a dataset's partition-key field gives a payload, the one rule for every way in (agent
 * sources, the ingest API): the same value always lands on the same key, so records that share it keep
 * their order whichever path brought them.
 *
 * A string keys as itself; a number or boolean as its JSON text; an object or array as its canonical JSON
 * (keys sorted), so a compound value such as `{"site":"b","id":3}` keeps ordering per value whatever key
 * order or spacing the sender used. A missing or null field, or a payload that is not a JSON object, has no
 * partition key: the caller keys by the record id.
 */
export function partitionKeyOf(payload: unknown, field: string | undefined): string | undefined {
  if (field === undefined || payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  if (!Object.hasOwn(payload, field)) return undefined;
  const value = (payload as Record<string, unknown>)[field];
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return undefined;
  return canonicalJson(value);
}
