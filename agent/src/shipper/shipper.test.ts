import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { ManualClock } from '@sluice/shared/node/testing/manual-clock';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { Outbox } from '../outbox/outbox.ts';
import { decodeRecordBatch } from '@sluice/shared/node/kafka-record-batch';
import { recordsIn } from './ship-items.ts';
import { Shipper, type MessageSender } from './shipper.ts';

const log = createLogger('test', { level: 'silent' });
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-shipper-'));
const msg = (i: number) => ({ topic: 'sluice.t', key: `k${i}`, value: Buffer.from(String(i)), headers: {} });

/** An in-memory broker that can be "down". */
class FakeBroker {
  received: string[] = [];
  down = false;
  senders = 0;
  sender(): MessageSender {
    this.senders++;
    return {
      send: async (messages) => {
        await sleep(1);
        if (this.down) throw new Error('broker unreachable');
        this.received.push(...messages.map((m) => m.key.toString()));
      },
      close: () => Promise.resolve(),
    };
  }
}

describe('Shipper', () => {
  it('ships in seq order in bounded batches and deletes only acknowledged rows', async () => {
    const outbox = new Outbox({ file: path.join(dir, 'a.db'), maxBytes: 1 << 30, maxRows: 100_000, synchronous: 'NORMAL' });
    const broker = new FakeBroker();
    const batches: number[] = [];
    const shipper = new Shipper({ outbox, createSender: () => broker.sender(), batchSize: 100, lingerMs: 2, maxBatchBytes: 1 << 20, log, onShipped: (b) => batches.push(b.length) });
    shipper.start();
    for (let i = 0; i < 1000; i += 50) outbox.commit(Array.from({ length: 50 }, (_, j) => msg(i + j)));
    await waitFor(() => outbox.stats().rows === 0 && broker.received.length === 1000, { timeoutMs: 10_000, intervalMs: 10 });
    expect(broker.received).toEqual(Array.from({ length: 1000 }, (_, i) => `k${i}`));
    expect(Math.max(...batches)).toBeLessThanOrEqual(100);
    expect(shipper.status().shipped).toBe(1000);
    await shipper.stop(0);
    outbox.close();
  });

  it('lingers only for a batch short of batchSize records, not for a full frame', async () => {
    const outbox = new Outbox({ file: path.join(dir, 'linger.db'), maxBytes: 1 << 30, maxRows: 100_000, synchronous: 'NORMAL' });
    const broker = new FakeBroker();
    const shipper = new Shipper({ outbox, createSender: () => broker.sender(), batchSize: 100, lingerMs: 60_000, maxBatchBytes: 1 << 20, log });
    shipper.start();
    outbox.commit(Array.from({ length: 100 }, (_, i) => msg(i))); // one frame of exactly batchSize records
    await waitFor(() => broker.received.length === 100, { timeoutMs: 5_000, intervalMs: 10 }); // a linger would hold it for a minute
    await shipper.stop(0);
    outbox.close();
  });

  it('does not linger for a batch full by bytes though short of batchSize records', async () => {
    const outbox = new Outbox({ file: path.join(dir, 'linger-bytes.db'), maxBytes: 1 << 30, maxRows: 100_000, synchronous: 'NORMAL' });
    const broker = new FakeBroker();
    const shipper = new Shipper({ outbox, createSender: () => broker.sender(), batchSize: 100_000, lingerMs: 60_000, maxBatchBytes: 1024, log });
    shipper.start();
    outbox.commit(Array.from({ length: 10 }, (_, i) => ({ ...msg(i), value: Buffer.alloc(200, 0x61) }))); // 2 KB: over maxBatchBytes
    await waitFor(() => broker.received.length === 10, { timeoutMs: 5_000, intervalMs: 10 });
    await shipper.stop(0);
    outbox.close();
  });

  it('backs off while the broker is down, lets the outbox grow, and recovers without restart', async () => {
    const outbox = new Outbox({ file: path.join(dir, 'b.db'), maxBytes: 1 << 30, maxRows: 100_000, synchronous: 'NORMAL' });
    const broker = new FakeBroker();
    broker.down = true;
    const shipper = new Shipper({ outbox, createSender: () => broker.sender(), batchSize: 100, lingerMs: 0, maxBatchBytes: 1 << 20, log, minRetryDelayMs: 5, maxRetryDelayMs: 20, recreateAfterFailures: 3 });
    shipper.start();
    outbox.commit(Array.from({ length: 250 }, (_, i) => msg(i)));
    await waitFor(() => shipper.status().consecutiveFailures >= 4, { timeoutMs: 10_000, intervalMs: 10 });
    expect(shipper.status().state).toBe('backoff');
    expect(shipper.status().lastError?.message).toBe('broker unreachable');
    outbox.commit(Array.from({ length: 250 }, (_, i) => msg(250 + i)));
    expect(outbox.stats().rows).toBe(500);
    expect(broker.senders).toBeGreaterThan(1); // the producer was recreated
    broker.down = false;
    await waitFor(() => outbox.stats().rows === 0, { timeoutMs: 10_000, intervalMs: 10 });
    // Batches in flight retry independently, so order across batches may change; every record arrives.
    expect([...broker.received].sort()).toEqual(Array.from({ length: 500 }, (_, i) => `k${i}`).sort());
    await shipper.stop(0);
    outbox.close();
  });

  it('stop() drains within its timeout, and does not hang on a dead broker', async () => {
    const outbox = new Outbox({ file: path.join(dir, 'c.db'), maxBytes: 1 << 30, maxRows: 100_000, synchronous: 'NORMAL' });
    const broker = new FakeBroker();
    const shipper = new Shipper({ outbox, createSender: () => broker.sender(), batchSize: 10, lingerMs: 0, maxBatchBytes: 1 << 20, log });
    shipper.start();
    outbox.commit(Array.from({ length: 100 }, (_, i) => msg(i)));
    await shipper.stop(5000);
    expect(outbox.stats().rows).toBe(0);
    let sending!: () => void;
    const sent = new Promise<void>((resolve) => (sending = resolve));
    const hang = (): Promise<void> => {
      sending();
      return new Promise(() => undefined);
    };
    const clock = new ManualClock();
    const hanging = new Shipper({ outbox, createSender: () => ({ send: hang, close: () => Promise.resolve() }), batchSize: 10, lingerMs: 0, maxBatchBytes: 1 << 20, log, clock });
    hanging.start();
    outbox.commit([msg(1)]);
    await sent;
    const stopping = hanging.stop(50);
    // The send hangs and the row is still there: stop() waits for the drain, looking again in 50 ms, then gives up.
    await clock.untilSleeping();
    expect(clock.sleeping.map((s) => s.ms)).toEqual([50]);
    clock.advance(50);
    await stopping;
    expect(outbox.stats().rows).toBe(1);
    outbox.close();
  });

  it('lingers lingerMs for a batch short of batchSize, then ships what arrived meanwhile as one batch', async () => {
    const outbox = new Outbox({ file: path.join(dir, 'linger-short.db'), maxBytes: 1 << 30, maxRows: 100_000, synchronous: 'NORMAL' });
    const broker = new FakeBroker();
    const clock = new ManualClock();
    const batches: number[] = [];
    const shipper = new Shipper({ outbox, createSender: () => broker.sender(), batchSize: 100, lingerMs: 500, maxBatchBytes: 1 << 20, log, clock, onShipped: (b) => batches.push(b.length) });
    shipper.start();
    outbox.commit(Array.from({ length: 10 }, (_, i) => msg(i)));
    await clock.untilSleeping();
    expect(clock.sleeping.map((s) => s.ms)).toEqual([500]);
    expect(broker.received).toEqual([]);
    outbox.commit(Array.from({ length: 20 }, (_, i) => msg(10 + i)));
    clock.advance(500);
    await waitFor(() => broker.received.length === 30, { timeoutMs: 5_000, intervalMs: 10 });
    expect(batches).toEqual([30]);
    expect(clock.sleeping).toEqual([]);
    await shipper.stop(0);
    outbox.close();
  });

  it('sends frames stored as record batches through sendBatches, or as their messages to a sender without it', async () => {
    for (const withBatches of [true, false]) {
      const outbox = new Outbox({ file: path.join(dir, `batches-${withBatches}.db`), maxBytes: 1 << 30, maxRows: 100_000, synchronous: 'NORMAL', recordBatches: 'lz4' });
      const received: string[] = [];
      let prebuilt = 0;
      const sender: MessageSender = {
        send: (messages) => {
          received.push(...messages.map((m) => m.key.toString()));
          return Promise.resolve();
        },
        ...(withBatches
          ? {
              sendBatches: (batches) => {
                prebuilt += batches.length;
                for (const b of batches) received.push(...decodeRecordBatch(b).map((r) => r.key.toString()));
                return Promise.resolve();
              },
            }
          : {}),
        close: () => Promise.resolve(),
      };
      const shipped: number[] = [];
      const shipper = new Shipper({ outbox, createSender: () => sender, batchSize: 1000, lingerMs: 0, maxBatchBytes: 1 << 20, log, onShipped: (items) => shipped.push(recordsIn(items)) });
      shipper.start();
      const headers = Object.freeze({ dataset: 'd' });
      for (let i = 0; i < 1000; i += 100) outbox.commit(Array.from({ length: 100 }, (_, j) => ({ ...msg(i + j), headers })));
      await waitFor(() => outbox.stats().rows === 0, { timeoutMs: 10_000, intervalMs: 10 });
      expect([...received].sort()).toEqual(Array.from({ length: 1000 }, (_, i) => `k${i}`).sort());
      expect(prebuilt > 0).toBe(withBatches);
      expect(shipped.reduce((a, b) => a + b, 0)).toBe(1000);
      expect(shipper.status().shipped).toBe(1000);
      await shipper.stop(0);
      outbox.close();
    }
  });
});
