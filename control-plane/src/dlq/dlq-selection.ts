/**
 * Which DLQ entries a request means, as a SQL condition: chosen ids, or a filter (dataset, reason kind,
 * creation time, replayed or not). Every route that reads many entries (list, dry run, bulk replay) builds
 * its WHERE here, so one filter means the same entries everywhere.
 */
import type { DlqFilter } from '@sluice/shared/api/dlq-bulk';
import { InputError } from '@sluice/shared/errors';

export type DlqSelection = { ids: readonly string[] } | { filter: DlqFilter };

/** The selection of a dry-run or bulk-replay body: exactly one of `ids` and `filter`. */
export function selectionOf(body: { ids?: readonly string[] | undefined; filter?: DlqFilter | undefined }): DlqSelection {
  if (body.ids !== undefined && body.filter !== undefined) throw InputError('send either ids or filter, not both');
  if (body.ids !== undefined) return { ids: body.ids };
  if (body.filter !== undefined) return { filter: body.filter };
  throw InputError('send ids (chosen entries) or filter (every entry matching it; {} for all)');
}

/**
 * A condition on the `dlq` table; its values are appended to `params` (so it composes with conditions
 * before and after it in one query).
 */
export function whereOf(selection: DlqSelection, params: unknown[]): string {
  const conditions: string[] = [];
  const add = (condition: (placeholder: string) => string, value: unknown): void => {
    params.push(value);
    conditions.push(condition(`$${params.length}`));
  };
  if ('ids' in selection) {
    add((p) => `id = ANY(${p}::bigint[])`, selection.ids);
    return conditions.join('');
  }
  const { dataset, reasonKind, since, until, replayed } = selection.filter;
  if (dataset !== undefined) add((p) => `dataset = ${p}`, dataset);
  if (reasonKind !== undefined) add((p) => `reason_kind = ${p}`, reasonKind);
  if (since !== undefined) add((p) => `created_at >= ${p}::timestamptz`, since);
  if (until !== undefined) add((p) => `created_at < ${p}::timestamptz`, until);
  if (replayed !== undefined) conditions.push(replayed ? 'replayed_at IS NOT NULL' : 'replayed_at IS NULL');
  return conditions.length === 0 ? 'TRUE' : conditions.join(' AND ');
}
