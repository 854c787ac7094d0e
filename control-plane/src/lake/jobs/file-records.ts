/**
 * The records of one file-like source object (an S3 object, a file, a URL's body): NDJSON lines or the
 * elements of a JSON array, gunzipped first when the name ends with `.gz`. Each gets its position (the
 * byte offset of a line, the index in an array), which with the object's identity makes its record id.
 * Items that are not records (bad JSON, invalid UTF-8) come back as parse errors, for the DLQ.
 */
import { gunzipSync } from 'node:zlib';
import { isArrayBody, judgeItem, splitJsonArray } from '@sluice/shared/json-batch';
import { recordId } from '@sluice/shared/record-id';
import { JOB_AGENT_ID } from './publish.ts';
import type { JobRecord } from './registry.ts';

export type FileFormat = 'auto' | 'ndjson' | 'json';


export function maybeGunzip(name: string, bytes: Buffer): Buffer {
  return name.endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

/**
 * Records of `content`, ids `control-plane:<sourceId>:f:<fingerprint>:<offset>` (recordId.file): the same
 * object read again, by a re-run or by a worker taking over a crashed one's batch, yields the same ids.
 */
export function fileRecords(content: Buffer, options: { sourceId: string; fingerprint: string; format: FileFormat; eventTime: string; position: Record<string, string | number> }): JobRecord[] {
  const out: JobRecord[] = [];
  const asArray = options.format === 'json' || (options.format === 'auto' && isArrayBody(content));
  const make = (offset: number, item: ReturnType<typeof judgeItem>, where: Record<string, number>): JobRecord => ({
    id: recordId.file(JOB_AGENT_ID, options.sourceId, options.fingerprint, offset),
    eventTime: options.eventTime,
    position: { ...options.position, ...where },
    ...('error' in item ? { parseError: { reason: item.error, raw: item.raw, rawEncoding: item.rawEncoding } } : { payload: item.value }),
  });
  if (asArray) {
    const slices = splitJsonArray(content);
    if (typeof slices === 'string') {
      out.push(make(0, { error: `not a JSON array: ${slices}`, raw: content.subarray(0, 64 * 1024).toString('base64'), rawEncoding: 'base64' }, { index: 0 }));
      return out;
    }
    slices.forEach((slice, index) => out.push(make(index, judgeItem(slice, `item ${index}`), { index })));
    return out;
  }
  let start = content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf ? 3 : 0;
  let line = 1;
  while (start < content.length) {
    let end = content.indexOf(0x0a, start);
    if (end < 0) end = content.length;
    let last = end;
    if (last > start && content[last - 1] === 0x0d) last--;
    const slice = content.subarray(start, last);
    if (!isBlank(slice)) out.push(make(start, judgeItem(slice, `line ${line}`), { line, offset: start }));
    start = end + 1;
    line++;
  }
  return out;
}

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

/** Groups sized items into batches: at most `maxBytes` together (one larger item alone) and `maxItems`. */
export function groupBySize<T extends { size: number }>(items: readonly T[], maxBytes: number, maxItems: number): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && (bytes + item.size > maxBytes || current.length >= maxItems)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
