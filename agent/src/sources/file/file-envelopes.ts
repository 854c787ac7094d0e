/**
 * Encodes the file source's records as envelope JSON, in the route's wire form (docs/envelope.md): v2 (the
 * value is `{"source":{"offset":…},"ingestTime":…,"payload":…}`, the file's shared fields travel in one
 * header object per file) or v1 (the whole envelope). This is the agent's hottest path (one call per tailed
 * line), so the parts every record of a file shares (id prefix, dataset, agent, source, path) are escaped
 * once per file into a template. A text line that needs no JSON escaping (no control character, quote or
 * backslash: most log lines) is not even decoded: its bytes are copied between the template's bytes into one
 * buffer per call, and each message's key and value are views of it. Other lines cost one JSON string escape
 * and a concatenation; records with a parse error take the plain path. The output reads back (envelope-wire.ts
 * `readWireEnvelope`) as exactly the envelope `fileEnvelope` builds (file-envelopes.test.ts holds them together).
 */
import type { Envelope } from '@sluice/shared/envelope';
import { compactHeaders, toCompact } from '@sluice/shared/envelope-wire';
import { inspect } from '@sluice/shared/record-guard';
import { partitionKeyOf } from '@sluice/shared/partition-key';
import { recordId } from '@sluice/shared/record-id';
import { minuteOf } from '../../outbox/shipped-ledger.ts';
import type { MessageRoute, OutboxMessage } from '../source.ts';
import type { SplitRecord } from './line-splitter.ts';

export interface FileIdentity {
  uid: string;
  path: string;
}

export interface FileEnvelopeOptions {
  agentId: string;
  sourceId: string;
  dataset: string;
  format: 'text' | 'json';
  route: MessageRoute;
}

interface Template {
  uid: string;
  path: string;
  idPrefix: string;
  /** `{"id":"<idPrefix>` : the offset follows. */
  head: string;
  /** `","dataset":…,"path":…,"offset":` : the offset follows again. */
  middle: string;
  idPrefixBytes: Buffer;
  headBytes: Buffer;
  middleBytes: Buffer;
  /** The headers of this file's messages: one frozen object per file in v2, the route's in v1. */
  headers: Readonly<Record<string, string>>;
}

/** A v2 value's start: the offset follows (the key is the id; a keyed message puts `"id":…,` first). */
const COMPACT_HEAD = '{"source":{"offset":';
const COMPACT_HEAD_BYTES = Buffer.from(COMPACT_HEAD);

/** Longest decimal offset (Number.MAX_SAFE_INTEGER has 16 digits). */
const MAX_DIGITS = 16;
const MESSAGE_HEAD = '{"message":"';
const MESSAGE_TAIL = Buffer.from('"}}');

export class FileEnvelopeEncoder {
  readonly #options: FileEnvelopeOptions;
  #template: Template | undefined;

  constructor(options: FileEnvelopeOptions) {
    this.#options = options;
  }

  /** Messages for `records` of one file, all ingested at `now` (an ISO timestamp). */
  encode(file: FileIdentity, records: readonly SplitRecord[], now: string): OutboxMessage[] {
    const { route, format } = this.#options;
    const t = this.#templateFor(file);
    const compact = route.wire === 'v2';
    // v2 leaves eventTime out: it is the ingest time until the consumer takes it from the payload.
    const times = compact ? `},"ingestTime":"${now}","payload":` : `},"eventTime":"${now}","ingestTime":"${now}","payload":`;
    const { headers } = t;
    const rawTail = Buffer.from(times + MESSAGE_HEAD);
    const minute = minuteOf(now);
    const out = new Array<OutboxMessage>(records.length);
    // Room for every raw line written whole (the upper bound; lines that need escaping use less): the key
    // (id prefix + offset) and the value (head + offset + middle + offset + times + line + tail).
    let room = 0;
    if (format === 'text' && route.partitionKey === undefined) {
      const fixed = t.idPrefixBytes.length + t.headBytes.length + t.middleBytes.length + rawTail.length + MESSAGE_TAIL.length + 3 * MAX_DIGITS;
      for (const record of records) if ('bytes' in record) room += fixed + record.bytes.length;
    }
    const buf = room > 0 ? Buffer.allocUnsafe(room) : undefined;
    let at = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      let payloadJson: string | undefined;
      let payload: unknown;
      if ('bytes' in record && buf !== undefined && needsNoEscape(record.bytes)) {
        const keyStart = at;
        at = put(buf, at, t.idPrefixBytes);
        at = writeDigits(buf, at, record.offset);
        const valueStart = at;
        if (compact) {
          at = put(buf, at, COMPACT_HEAD_BYTES);
        } else {
          at = put(buf, at, t.headBytes);
          at = writeDigits(buf, at, record.offset);
          at = put(buf, at, t.middleBytes);
        }
        at = writeDigits(buf, at, record.offset);
        at = put(buf, at, rawTail);
        at = put(buf, at, record.bytes);
        at = put(buf, at, MESSAGE_TAIL);
        out[i] = { topic: route.topic, key: buf.subarray(keyStart, valueStart), value: buf.subarray(valueStart, at), headers, minute };
        continue;
      }
      const line = 'bytes' in record ? { offset: record.offset, text: record.bytes.toString('utf8') } : record;
      if ('text' in line) {
        // A line the record guard refuses falls through to the plain path too, which records why.
        if (format === 'text') {
          if (!line.text.includes('\u0000')) {
            payloadJson = `{"message":${JSON.stringify(line.text)}}`;
            if (route.partitionKey !== undefined) payload = { message: line.text };
          }
        } else {
          try {
            const parsed: unknown = JSON.parse(line.text);
            if (inspect(parsed) === undefined) {
              payload = parsed;
              payloadJson = line.text; // valid JSON as it stands: embedded, not re-serialised
            }
          } catch {
            // falls through to the plain path, which records the parse error
          }
        }
      }
      const id = t.idPrefix + record.offset;
      const partitionKey = partitionKeyOf(payload, route.partitionKey);
      let value: string;
      if (payloadJson === undefined) {
        // No payload to key by: the key is the record id.
        const envelope = fileEnvelope(this.#options, file, line, now);
        value = compact ? toCompact(envelope, true).value : JSON.stringify(envelope);
      } else if (!compact) {
        value = `${t.head}${record.offset}${t.middle}${record.offset}${times}${payloadJson}}`;
      } else {
        value = `${partitionKey === undefined ? '{' : `{"id":${JSON.stringify(id)},`}${COMPACT_HEAD.slice(1)}${record.offset}${times}${payloadJson}}`;
      }
      out[i] =
        partitionKey === undefined
          ? { topic: route.topic, key: id, value, headers, minute }
          : { topic: route.topic, key: partitionKey, value, headers, keyed: true, minute };
    }
    return out;
  }

  #templateFor(file: FileIdentity): Template {
    const cached = this.#template;
    if (cached?.uid === file.uid && cached.path === file.path) return cached;
    const { agentId, sourceId, dataset, route } = this.#options;
    const idPrefix = recordId.filePrefix(agentId, sourceId, file.uid);
    const head = `{"id":${JSON.stringify(idPrefix).slice(0, -1)}`;
    const middle = `","dataset":${JSON.stringify(dataset)},"agentId":${JSON.stringify(agentId)},"source":{"id":${JSON.stringify(sourceId)},"kind":"file","path":${JSON.stringify(file.path)},"offset":`;
    const template: Template = {
      uid: file.uid,
      path: file.path,
      idPrefix,
      head,
      middle,
      idPrefixBytes: Buffer.from(idPrefix),
      headBytes: Buffer.from(head),
      middleBytes: Buffer.from(middle),
      headers: route.wire === 'v2' ? compactHeaders(dataset, agentId, undefined, { id: sourceId, kind: 'file', path: file.path }) : route.headers,
    };
    this.#template = template;
    return template;
  }
}

/** True when the bytes can stand inside a JSON string as they are: no control character, quote or backslash. */
function needsNoEscape(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x20 || b === 0x22 || b === 0x5c) return false;
  }
  return true;
}

/** Copies `bytes` to `at` (TypedArray#set: no per-call argument juggling of Buffer#copy); returns the end. */
function put(buf: Buffer, at: number, bytes: Uint8Array): number {
  buf.set(bytes, at);
  return at + bytes.length;
}

/** Writes a non-negative integer's decimal digits at `at`; returns the position after them. */
function writeDigits(buf: Buffer, at: number, n: number): number {
  if (n < 10) {
    buf[at] = 0x30 + n;
    return at + 1;
  }
  let digits = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
  for (let i = at + digits - 1; i >= at; i--) {
    buf[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return at + digits;
}

/** The envelope of one file record, as an object: the reference the template must match. */
export function fileEnvelope(options: Omit<FileEnvelopeOptions, 'route'>, file: FileIdentity, record: Exclude<SplitRecord, { bytes: Buffer }>, now: string): Envelope {
  const base = {
    id: recordId.file(options.agentId, options.sourceId, file.uid, record.offset),
    dataset: options.dataset,
    agentId: options.agentId,
    source: { id: options.sourceId, kind: 'file' as const, path: file.path, offset: record.offset },
    eventTime: now,
    ingestTime: now,
  };
  if ('parseError' in record) return { ...base, payload: null, parseError: record.parseError };
  let payload: unknown;
  if (options.format === 'text') {
    payload = { message: record.text };
  } else {
    try {
      payload = JSON.parse(record.text) as unknown;
    } catch (error) {
      return { ...base, payload: null, parseError: { reason: `invalid JSON: ${(error as Error).message}`, raw: record.text, rawEncoding: 'utf8' } };
    }
  }
  const refused = inspect(payload);
  if (refused !== undefined) return { ...base, payload: null, parseError: { reason: refused, raw: record.text, rawEncoding: 'utf8' } };
  return { ...base, payload };
}
