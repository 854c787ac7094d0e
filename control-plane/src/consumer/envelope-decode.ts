/**
 * A message's text as an envelope, in either form it travels in (docs/envelope.md, shared/src/envelope-wire.ts):
 *
 *   no `envelope` header ──► version 1: the value is the whole envelope, checked against the envelope schema
 *   `envelope` header ─────► version 2: the header (shared by a source's records: parsed and checked once, then
 *                            cached), the value (per-record fields, its own schema) and the key (the record id
 *                            unless the value names one) make the same envelope a version 1 message would be
 *   anything else ─────────► a DLQ entry, `not a Sluice envelope: …` (permanent: the bytes stay as they came)
 *
 * A version 2 DLQ entry keeps its headers and names its record id (from the value, else the key), so a replay,
 * which sends the original bytes and headers under the record id as key, decodes to the same record.
 */
import { DATASET_NAME, KAFKA_HEADERS, envelopeSchema, type Envelope } from '@sluice/shared/envelope';
import { compactValueSchema, expandCompact, wireContextSchema, type CompactValue, type WireContext } from '@sluice/shared/envelope-wire';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import { createAjv, describeErrors } from '../datasets/validators.ts';
import type { DlqEntry } from './dead-letters.ts';
import { dlqEntry } from './sink-writer.ts';

const ajv = createAjv();
const envelopeValidator = ajv.compile(envelopeSchema);
const contextValidator = ajv.compile<WireContext>(wireContextSchema);
const compactValidator = ajv.compile<CompactValue>(compactValueSchema);

const MAX_ID_LENGTH = envelopeSchema.properties.id.maxLength;

/** Parsed `envelope` headers (or why one is refused) by their text: a source's records share one. */
const contexts = new Map<string, WireContext | string>();
const MAX_CONTEXTS = 4096;

/** The envelope of a message whose value is `text` (already checked for size and UTF-8). */
export function decodeEnvelope(message: IncomingMessage, text: string): DlqEntry | { envelope: Envelope } {
  const contextJson = message.headers[KAFKA_HEADERS.envelope];
  return contextJson === undefined ? decodeV1(message, text) : decodeV2(message, text, contextJson);
}

function decodeV1(message: IncomingMessage, text: string): DlqEntry | { envelope: Envelope } {
  const dataset = message.headers[KAFKA_HEADERS.dataset];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return dlqEntry(message, `not a Sluice envelope: ${(error as Error).message}`, dataset);
  }
  if (!envelopeValidator(parsed)) return dlqEntry(message, `not a Sluice envelope: ${describeErrors(envelopeValidator.errors)}`, dataset);
  return { envelope: parsed };
}

function decodeV2(message: IncomingMessage, text: string, contextJson: string): DlqEntry | { envelope: Envelope } {
  const dataset = message.headers[KAFKA_HEADERS.dataset];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return dlqEntry(message, `not a Sluice envelope: ${(error as Error).message}`, dataset, message.key);
  }
  const named = typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string' ? (value as { id: string }).id : undefined;
  const reject = (reason: string): DlqEntry => dlqEntry(message, `not a Sluice envelope: ${reason}`, dataset, named ?? message.key);
  const context = contextOf(contextJson);
  if (typeof context === 'string') return reject(context);
  if (dataset === undefined) return reject('a version 2 message without a dataset header');
  if (!DATASET_NAME.test(dataset)) return reject(`the dataset header ${JSON.stringify(dataset.slice(0, 100))} is not a dataset name`);
  if (!compactValidator(value)) return reject(describeErrors(compactValidator.errors));
  const id = value.id ?? message.key;
  if (id === undefined || id.length === 0) return reject('a version 2 message without a record id (no key, no id in the value)');
  if (id.length > MAX_ID_LENGTH) return reject(`the record id (the key) is ${id.length} characters, longer than ${MAX_ID_LENGTH}`);
  return { envelope: expandCompact(id, dataset, context, value) };
}

function contextOf(json: string): WireContext | string {
  let context = contexts.get(json);
  if (context === undefined) {
    context = parseContext(json);
    if (contexts.size >= MAX_CONTEXTS) contexts.clear();
    contexts.set(json, context);
  }
  return context;
}

function parseContext(json: string): WireContext | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    return `the envelope header is not JSON: ${(error as Error).message}`;
  }
  const v = typeof parsed === 'object' && parsed !== null ? (parsed as { v?: unknown }).v : undefined;
  if (v !== 2) return `the envelope header names version ${JSON.stringify(v) ?? 'none'}; this control plane reads versions 1 and 2`;
  if (!contextValidator(parsed)) return `the envelope header: ${describeErrors(contextValidator.errors)}`;
  return Object.freeze(parsed);
}
