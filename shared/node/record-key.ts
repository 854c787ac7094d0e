/**
 * What names a polled record (the last part of `recordId.poll`). A polled API has no stable position: a
 * full (non-incremental) endpoint returns the same records on every poll, in pages that shift when the list
 * changes. So the key comes from what the record is:
 *
 *   idField set     → sha256("id", canonical JSON of the value at the pointer): the API's own key. An
 *                     updated record keeps its id (the stores keep the first version they received).
 *   idField not set → sha256("content", endpoint, canonical JSON of the record): each distinct content is
 *                     one record; a changed record is a new one, two identical records are one.
 *
 * The endpoint is origin + path: the query string changes per page (cursor, offset, watermark) and may carry
 * a credential that gets rotated, neither of which makes a record another record. The source id and agent id
 * are in every record id already, so two sources polling one endpoint stay apart.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '@sluice/shared/canonical-json';
import { atPointer, parsePointer } from '@sluice/shared/json-pointer';

export interface KeyedRecord {
  key: string;
  /** Set when `idField` is configured but the record has no usable value there. */
  problem?: string;
}

export class RecordKeys {
  readonly #endpoint: string;
  readonly #idField: string | undefined;
  readonly #tokens: string[] | undefined;

  constructor(endpoint: string, idField?: string) {
    this.#endpoint = endpoint;
    this.#idField = idField;
    this.#tokens = idField === undefined ? undefined : parsePointer(idField);
  }

  of(record: unknown): KeyedRecord {
    if (this.#tokens === undefined) return { key: this.#content(record) };
    const value = atPointer(record, this.#tokens);
    if (value === undefined || value === null || value === '') {
      // Content-keyed, so the same bad record polled again is still one DLQ entry.
      return { key: this.#content(record), problem: `idField ${this.#idField ?? ''} is missing, null or empty in the record` };
    }
    return { key: digest(`id\n${canonicalJson(value)}`) };
  }

  /** A page answer that could not be parsed: the same bad answer to the same page is the same record. */
  parseError(pageUrl: string, body: string): string {
    return digest(`parse-error\n${pageUrl}\n${body}`);
  }

  #content(record: unknown): string {
    return digest(`content\n${this.#endpoint}\n${canonicalJson(record)}`);
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}
