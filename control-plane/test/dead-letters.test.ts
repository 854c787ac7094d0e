import { describe, expect, it } from 'vitest';
import { reasonKind, toDlqMessage, DLQ_HEADERS, type ReasonKind } from '../src/consumer/dead-letters.ts';

describe('DLQ reason kinds', () => {
  it('classifies every reason the consumer writes, whatever record it names', () => {
    const cases: Array<[string, ReasonKind]> = [
      ['unknown dataset ghosts', 'unknown_dataset'],
      ['could not be parsed at the source: unexpected end of JSON input', 'parse'],
      ['does not match schema version 3 of sensors: /temperature: must be number', 'schema'],
      ['not a Sluice envelope: the value is not UTF-8 text (5 bytes, starting deadbeef00)', 'not_envelope'],
      ['record is 10240 bytes, larger than the limit of 4096 bytes', 'size'],
      ['refused before any store: payload: nested more than 20 levels deep', 'unstorable'],
      ['sink postgres refused the batch: column "x" is of type integer', 'sink'],
      ['sink search rejected the record: mapper_parsing_exception; sink postgres rejected the record: bad', 'sink'],
      ['sink objectStore kept failing with an error it does not classify: boom (5 attempts over 60 s)', 'sink'],
      ['blob chunk refused by the object store: AccessDenied', 'blob'],
      ['record carries a blob, but this consumer has no object store for blobs', 'blob'],
      ['something new', 'other'],
      // Only a prefix counts: a reason that merely mentions another kind keeps its own.
      ['record is big: unknown dataset', 'other'],
    ];
    for (const [reason, kind] of cases) expect(reasonKind(reason), reason).toBe(kind);
  });

  it('puts the kind on the DLQ topic message, an explicit one winning', () => {
    const entry = { dataset: 'x', recordId: 'r', topic: 't', partition: 0, offset: 1n, reason: 'unknown dataset x', schemaVersion: undefined, original: Buffer.from('{}'), headers: {} };
    expect(toDlqMessage(entry).headers[DLQ_HEADERS.reasonKind]).toBe('unknown_dataset');
    expect(toDlqMessage({ ...entry, reasonKind: 'sink' }).headers[DLQ_HEADERS.reasonKind]).toBe('sink');
  });
});
