/**
 * What the DLQ screens show, as pure functions: reason kinds in words, the original bytes as text or as a
 * hex dump, the dataset a dry run can pin a schema version of, and a dry run's outcome in one sentence.
 */
import type { DlqDryRunResponse, DlqEntryView, ReasonKind } from '../../api/dlq.ts';

/** What each reason kind means and what usually fixes it (as in the DLQ documentation). */
export const REASONS: Record<ReasonKind, { label: string; fix: string }> = {
  unknown_dataset: { label: 'unknown dataset', fix: 'register the dataset, then replay' },
  schema: { label: 'schema mismatch', fix: 'fix the producer, or publish a schema version that accepts it, then replay' },
  parse: { label: 'unparsable at the source', fix: 'fix the input at the source' },
  not_envelope: { label: 'not a Sluice record', fix: 'find who writes to the topic' },
  size: { label: 'too large', fix: 'split the record, or raise SLUICE_MAX_RECORD_BYTES' },
  unstorable: { label: 'refused before any store', fix: "change the payload's shape" },
  sink: { label: 'a store refused it', fix: 'replay once the store or schema is fixed' },
  blob: { label: 'blob failed', fix: 'see the reason' },
  other: { label: 'other', fix: 'see the reason' },
};

export function decodeBase64(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export interface HexLine {
  offset: string;
  hex: string;
  ascii: string;
}

/** The classic dump: 16 bytes a line, offset, hex pairs (a gap after 8), printable ASCII or a dot. */
export function hexDump(bytes: Uint8Array, maxBytes = 4096): { lines: HexLine[]; shown: number } {
  const shown = Math.min(bytes.length, maxBytes);
  const lines: HexLine[] = [];
  for (let at = 0; at < shown; at += 16) {
    const chunk = bytes.subarray(at, Math.min(at + 16, shown));
    const pairs = Array.from(chunk, (b) => b.toString(16).padStart(2, '0'));
    const hex = `${pairs.slice(0, 8).join(' ')}${pairs.length > 8 ? `  ${pairs.slice(8).join(' ')}` : ''}`;
    const ascii = Array.from(chunk, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push({ offset: at.toString(16).padStart(8, '0'), hex, ascii });
  }
  return { lines, shown };
}

/** The original as text for reading: an envelope (JSON) indented, other text as it is; undefined when not UTF-8. */
export function readableText(entry: Pick<DlqEntryView, 'originalText'>): string | undefined {
  const text = entry.originalText;
  if (text === undefined) return undefined;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * The dataset whose schema versions a dry run may choose from: the filter's, else the one every chosen
 * entry belongs to; undefined when the entries span datasets (each is then checked against its latest).
 */
export function pinnableDataset(filterDataset: string, chosen: ReadonlyArray<Pick<DlqEntryView, 'dataset'>>): string | undefined {
  if (filterDataset !== '') return filterDataset;
  const datasets = new Set(chosen.map((e) => e.dataset));
  const [only] = datasets;
  return datasets.size === 1 && only !== null && only !== undefined ? only : undefined;
}

export function dryRunSummary(result: DlqDryRunResponse): string {
  const against = result.against ? `schema version ${String(result.against.version)} of ${result.against.dataset}` : "each dataset's latest schema version";
  const outcome = `${String(result.wouldPass)} would pass, ${String(result.wouldFail)} would fail again.`;
  if (result.truncated) return `Against ${against}, the oldest ${String(result.total)} of ${entryCount(result.matched)} checked: ${outcome}`;
  return `Against ${against}: ${String(result.wouldPass)} of ${entryCount(result.total)} would pass, ${String(result.wouldFail)} would fail again.`;
}

export function entryCount(n: number): string {
  return `${String(n)} ${n === 1 ? 'entry' : 'entries'}`;
}
