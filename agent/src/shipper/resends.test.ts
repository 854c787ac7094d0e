import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { Outbox, type OutboxFrame } from '../outbox/outbox.ts';
import type { ResendReason } from './resends.ts';
import { Shipper, type MessageSender, type SenderEvents } from './shipper.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sluice-resends-'));
const msg = (i: number) => ({ topic: 'sluice.t', key: `k${i}`, value: Buffer.from(String(i)), headers: {} });
const newOutbox = (name: string): Outbox => new Outbox({ file: path.join(dir, `${name}.db`), maxBytes: 1 << 30, maxRows: 100_000, synchronous: 'NORMAL' });

function capture() {
  const log = createLogger('test', { level: 'silent' });
  const warn = vi.spyOn(log, 'warn');
  const warnings = (text: string): Array<Record<string, unknown>> =>
    warn.mock.calls.filter(([, msg]) => typeof msg === 'string' && msg.startsWith(text)).map(([fields]) => fields as Record<string, unknown>);
  return { log, warnings };
}

/** Records what a sender received; `behave` decides each send's fate. */
function recordingSender(behave: (n: number, events: SenderEvents) => Promise<void>) {
  const received: string[] = [];
  let sends = 0;
  const create = (events: SenderEvents): MessageSender => ({
    send: async (messages) => {
      await behave(++sends, events);
      received.push(...messages.map((m) => m.key.toString()));
    },
    close: () => Promise.resolve(),
  });
  return { create, received };
}

describe('Shipper re-sends', () => {
  it('retries the sender makes by itself show as backoff and are no re-sends', async () => {
    const outbox = newOutbox('own-retry');
    const { log, warnings } = capture();
    const states: string[] = [];
    const ref: { shipper?: Shipper } = {};
    const sender = recordingSender(async (n, events) => {
      if (n !== 1) return;
      for (let attempt = 1; attempt <= 4; attempt++) {
        events.onRetry(new Error('connection lost'), attempt);
        states.push(ref.shipper!.status().state);
        await sleep(2);
      }
    });
    const shipper = new Shipper({ outbox, createSender: sender.create, batchSize: 100, lingerMs: 0, maxBatchBytes: 1 << 20, log });
    ref.shipper = shipper;
    shipper.start();
    outbox.commit(Array.from({ length: 100 }, (_, i) => msg(i)));
    await waitFor(() => outbox.stats().rows === 0, { timeoutMs: 10_000, intervalMs: 5 });
    // The first retry is routine and not reported; the later ones are.
    expect(states).toEqual(['sending', 'backoff', 'backoff', 'backoff']);
    expect(shipper.status()).toMatchObject({ shipped: 100, resent: 0, consecutiveFailures: 0, lastError: { message: 'connection lost' } });
    expect(warnings('kafka send failed')).toHaveLength(1);
    expect(warnings('re-sent')).toHaveLength(0);
    await shipper.stop(0);
    outbox.close();
  });

  it('counts a batch sent again after its send rejected, and logs the episode once with the count', async () => {
    const outbox = newOutbox('rejected');
    const { log, warnings } = capture();
    const resent: Array<{ n: number; reason: ResendReason }> = [];
    const sender = recordingSender(async (n) => {
      if (n <= 3) throw new Error('producer gave up');
    });
    const shipper = new Shipper({
      outbox,
      createSender: sender.create,
      batchSize: 100,
      lingerMs: 0,
      maxBatchBytes: 1 << 20,
      log,
      maxInFlight: 1,
      minRetryDelayMs: 1,
      maxRetryDelayMs: 5,
      onResent: (messages, reason) => resent.push({ n: messages.length, reason }),
    });
    shipper.start();
    outbox.commit(Array.from({ length: 100 }, (_, i) => msg(i)));
    await waitFor(() => outbox.stats().rows === 0, { timeoutMs: 10_000, intervalMs: 5 });
    // Three sends rejected, so the batch was handed over three more times.
    expect(resent).toEqual([100, 100, 100].map((n) => ({ n, reason: 'failed-send' })));
    expect(shipper.status().resent).toBe(300);
    expect(warnings('re-sent records whose send had failed')).toEqual([{ records: 300, total: 300 }]);
    await shipper.stop(0);
    outbox.close();
  });

  it('after a restart, counts once the frames the previous run had handed to a producer without an acknowledgement', async () => {
    const first = newOutbox('restart');
    for (let i = 0; i < 100; i += 10) first.commit(Array.from({ length: 10 }, (_, j) => msg(i + j)));
    let handed = 0;
    const hanging = recordingSender(() => {
      handed++;
      return new Promise<void>(() => undefined);
    });
    const before = new Shipper({ outbox: first, createSender: hanging.create, batchSize: 10, lingerMs: 0, maxBatchBytes: 1 << 20, log: capture().log, maxInFlight: 2 });
    before.start();
    await waitFor(() => handed === 2, 10_000, 'two batches handed to the producer'); // maxInFlight: no more go out
    await before.stop(0);
    first.close();

    const outbox = newOutbox('restart');
    const { log, warnings } = capture();
    const reasons: ResendReason[] = [];
    const sender = recordingSender(() => Promise.resolve());
    const after = new Shipper({ outbox, createSender: sender.create, batchSize: 10, lingerMs: 0, maxBatchBytes: 1 << 20, log, onResent: (_m, reason) => reasons.push(reason) });
    after.start();
    await waitFor(() => outbox.stats().rows === 0, { timeoutMs: 10_000, intervalMs: 5 });
    // Two batches of one 10-record frame each were in flight when the first run stopped.
    expect(after.status().resent).toBe(20);
    expect(reasons).toEqual(['restart', 'restart']);
    expect(warnings('re-sending records a previous run had sent')).toEqual([{ records: 20 }]);
    expect([...sender.received].sort()).toEqual(Array.from({ length: 100 }, (_, i) => `k${i}`).sort());
    await after.stop(0);
    outbox.close();
  });

  it('an acknowledged batch whose delete fails (full disk) is deleted later and not sent again', async () => {
    class FlakyOutbox extends Outbox {
      failures = 3;
      override acknowledge(frames: readonly OutboxFrame[]): void {
        if (this.failures-- > 0) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        super.acknowledge(frames);
      }
    }
    const outbox = new FlakyOutbox({ file: path.join(dir, 'flaky.db'), maxBytes: 1 << 30, maxRows: 100_000, synchronous: 'NORMAL' });
    const { log, warnings } = capture();
    const sender = recordingSender(() => Promise.resolve());
    const shipper = new Shipper({ outbox, createSender: sender.create, batchSize: 10, lingerMs: 0, maxBatchBytes: 1 << 20, log, acknowledgeRetryMs: 5 });
    shipper.start();
    for (let i = 0; i < 50; i += 10) outbox.commit(Array.from({ length: 10 }, (_, j) => msg(i + j)));
    await waitFor(() => outbox.stats().rows === 0, { timeoutMs: 10_000, intervalMs: 5 });
    expect(sender.received.length).toBe(50);
    expect(new Set(sender.received).size).toBe(50);
    expect(shipper.status()).toMatchObject({ shipped: 50, resent: 0 });
    expect(warnings('could not delete acknowledged records')).toHaveLength(1);
    await shipper.stop(0);
    outbox.close();
  });
});
