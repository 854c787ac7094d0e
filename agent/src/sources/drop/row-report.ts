/**
 * What a dropped file's refused rows were. Every refused row still ships (as a parseError record, so it
 * reaches the DLQ with its reason); the report is what the operator looking at done/ sees without asking
 * the DLQ: how many rows of the file failed, and the first reasons.
 */
import type { Envelope } from '@sluice/shared/envelope';
import { truncateRaw } from '@sluice/shared/json-batch';

export interface RowReportSummary {
  failed: number;
  /** The first few refused rows (row index, line, reason). */
  errors: Array<{ row: number; line: number; reason: string }>;
}

const KEPT_ERRORS = 20;

export class RowReport {
  failed = 0;
  readonly errors: RowReportSummary['errors'] = [];

  add(row: number, line: number, reason: string): void {
    this.failed++;
    if (this.errors.length < KEPT_ERRORS) this.errors.push({ row, line, reason });
  }

  summary(): RowReportSummary {
    return { failed: this.failed, errors: this.errors };
  }
}

/**
 * The record refused for its size where it is made: the consumer would refuse it anyway, but only after
 * the file was reported done. Its raw text is cut to fit, so the refusal itself reaches the DLQ.
 */
export function oversizeRecord(envelope: Envelope, bytes: number, maxRecordBytes: number): Envelope {
  // Already refused (a broken row, its raw text as long as a record): keep that reason, cut the text.
  if (envelope.parseError) return { ...envelope, parseError: { ...envelope.parseError, raw: truncateRaw(envelope.parseError.raw, maxRecordBytes) } };
  const line = typeof envelope.source.line === 'number' ? envelope.source.line : 1;
  const reason = `line ${line}: record of ${bytes} bytes is over maxRecordBytes (${maxRecordBytes}); raw text truncated`;
  return { ...envelope, payload: null, parseError: { reason, raw: truncateRaw(JSON.stringify(envelope.payload), maxRecordBytes) } };
}
