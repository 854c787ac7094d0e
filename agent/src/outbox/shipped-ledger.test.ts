import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envelopeHeaders } from '@sluice/shared/envelope';
import type { OutboxMessage } from '../sources/source.ts';
import { Outbox } from './outbox.ts';
import { frameLedger, minuteOf, PRUNE_AFTER_MS } from './shipped-ledger.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sluice-ledger-'));
let n = 0;
const open = (file = path.join(dir, `l${n++}.db`)): Outbox => new Outbox({ file, maxBytes: 1 << 30, maxRows: 1_000_000, synchronous: 'FULL' });
const MINUTE = Date.parse('2026-12-01T10:07:00Z');
const record = (dataset: string, minute: number, i: number): OutboxMessage => ({ topic: `sluice.${dataset}`, key: `k${i}`, value: `v${i}`, headers: envelopeHeaders(dataset, 'gw-1'), minute });
const chunk = (i: number): OutboxMessage => ({ topic: 'sluice.files', key: 'blob', value: Buffer.alloc(8), headers: { ...envelopeHeaders('files', 'gw-1'), 'content-type': 'chunk' }, keyed: true, group: `g${i}` });

describe('the shipped-records ledger', () => {
  it('counts a frame per dataset and whole minute of ingestTime; blob chunks are not records', () => {
    expect(minuteOf('2026-12-01T10:07:59.999Z')).toBe(MINUTE);
    expect(minuteOf('2026-12-01T10:07:00.000Z')).toBe(MINUTE);
    const runs = frameLedger([record('a', MINUTE, 1), record('a', MINUTE, 2), record('b', MINUTE, 3), record('a', MINUTE + 60_000, 4), record('a', MINUTE, 5), chunk(6)]);
    expect(JSON.parse(runs!)).toEqual([
      ['a', MINUTE, 3],
      ['b', MINUTE, 1],
      ['a', MINUTE + 60_000, 1],
    ]);
    expect(frameLedger([chunk(1)])).toBeNull();
  });

  it('adds frames to shipped_minutes only when they are acknowledged, exactly once, and survives a reopen', () => {
    const file = path.join(dir, 'reopen.db');
    let outbox = open(file);
    outbox.commit(Array.from({ length: 5 }, (_, i) => record('a', MINUTE, i)));
    outbox.commit([record('a', MINUTE, 10), record('b', MINUTE + 60_000, 11)]);
    expect(outbox.ledger.changedSince(100).rows).toEqual([]); // committed is not shipped
    const frames = outbox.read(0, 100, 1 << 20);
    outbox.acknowledge(frames.slice(0, 1));
    expect(outbox.ledger.changedSince(100).rows).toEqual([{ dataset: 'a', minute: MINUTE, shipped: 5 }]);
    outbox.close();
    outbox = open(file);
    outbox.acknowledge(outbox.read(0, 100, 1 << 20));
    expect(outbox.ledger.changedSince(100).rows).toEqual([
      { dataset: 'a', minute: MINUTE, shipped: 6 },
      { dataset: 'b', minute: MINUTE + 60_000, shipped: 1 },
    ]);
    outbox.close();
  });

  it('reports rows changed since the last acknowledged report, never splitting one change at the limit, and prunes old reported rows', () => {
    const outbox = open();
    const ack = (): void => outbox.acknowledge(outbox.read(0, 1000, 1 << 20));
    outbox.commit([record('a', MINUTE, 1)]);
    ack();
    const first = outbox.ledger.changedSince(100);
    expect(first.rows).toHaveLength(1);
    outbox.ledger.markReported(first.through);
    expect(outbox.ledger.changedSince(100).rows).toEqual([]);
    // One acknowledgement touching three rows, then one more: a limit of 2 must not send part of the first.
    outbox.commit([record('a', MINUTE, 2)]);
    outbox.commit([record('b', MINUTE, 3)]);
    outbox.commit([record('c', MINUTE, 4)]);
    ack();
    outbox.commit([record('d', MINUTE, 5)]);
    ack();
    const capped = outbox.ledger.changedSince(3);
    expect(capped.rows.map((r) => r.dataset).sort()).toEqual(['a', 'b', 'c']);
    outbox.ledger.markReported(capped.through);
    expect(outbox.ledger.changedSince(3).rows).toEqual([{ dataset: 'd', minute: MINUTE, shipped: 1 }]);
    // Unreported rows are kept however old; reported ones go once unchanged for PRUNE_AFTER_MS.
    expect(outbox.ledger.prune(Date.now() + PRUNE_AFTER_MS + 1000)).toBe(3);
    expect(outbox.ledger.changedSince(100).rows.map((r) => r.dataset)).toEqual(['d']);
    outbox.close();
  });

  it('reports what is shipped after a reopen that follows pruning every row', () => {
    const file = path.join(dir, 'pruned-reopen.db');
    let outbox = open(file);
    for (let i = 0; i < 3; i += 1) {
      outbox.commit([record('a', MINUTE + i * 60_000, i)]);
      outbox.acknowledge(outbox.read(0, 100, 1 << 20));
    }
    outbox.ledger.markReported(outbox.ledger.changedSince(100).through);
    expect(outbox.ledger.prune(Date.now() + PRUNE_AFTER_MS + 1000)).toBe(3);
    outbox.close();
    outbox = open(file);
    outbox.commit([record('b', MINUTE, 9)]);
    outbox.acknowledge(outbox.read(0, 100, 1 << 20));
    expect(outbox.ledger.changedSince(100).rows).toEqual([{ dataset: 'b', minute: MINUTE, shipped: 1 }]);
    outbox.close();
  });
});
