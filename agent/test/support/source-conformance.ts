/**
 * The source contract (src/sources/source.ts) as one test suite every source's tests run (Vector's
 * `src/test_util/components.rs` idea): a new source proves it by calling `describeSourceConformance` with a
 * fixture that feeds it numbered records. The outbox is the in-memory one (memory-context.ts); a restart
 * is a new source instance on a new context that starts from the checkpoints the old one committed.
 *
 *   restart   records while running, stop() at any point, more records while stopped, a new instance:
 *             every record committed once across both, none by the old one after its stop() resolved
 *   stop      idempotent: twice at once, and again after it resolved
 *   full      the source holds back while the outbox is full (waits for room, or refuses its sender, who
 *             retries) and, once the shipper catches up, has lost and repeated nothing
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '@sluice/shared/envelope';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import type { Source } from '../../src/sources/source.ts';
import { MemoryContext, type MemoryContextOptions } from './memory-context.ts';

/** A source kind under test, with what feeds it. One per test: its folder, server or endpoint is its own. */
export interface SourceFixture {
  /** A new instance of the source, configured the same every time: what the agent builds on a restart. */
  create(): Source;
  /**
   * Makes records number `from` to `to - 1` available to the source: appended to its file, dropped in its
   * folder, served by its endpoint, or pushed. Resolves once they are handed over: at once for data the source
   * reads in its own time; for pushed data when the source accepted them, so it may wait for the next start.
   */
  produce(from: number, to: number): Promise<void>;
  /** The number `produce` gave the record an envelope carries. */
  numberOf(envelope: Envelope): number;
  /**
   * How the source holds back while the outbox is full: it `waits` for room (pauses), or it refuses the sender
   * (http-push answers 429), who retries; `refusals` counts the refused attempts so far.
   */
  readonly whenFull: 'waits' | { refusals(): number };
  /** Removes the fixture's folder, server or endpoint; every source it made has been stopped by then. */
  cleanup(): Promise<void>;
}

export interface SourceConformanceOptions {
  /** Records fed before the restart; enough for several commits, so the stop can fall between two. Default 3000. */
  records?: number;
  /** Pending rows the outbox holds in the "full" case. Default 50. */
  outboxRows?: number;
  /** Records fed into that outbox: more than two of the source's commits hold. Default 10 × outboxRows. */
  pastFull?: number;
}

export function describeSourceConformance(kind: string, setup: () => Promise<SourceFixture>, options: SourceConformanceOptions = {}): void {
  const records = options.records ?? 3000;
  const outboxRows = options.outboxRows ?? 50;
  const pastFull = options.pastFull ?? outboxRows * 10;

  describe(`${kind} source conformance`, () => {
    let after: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const step of after.reverse()) await step();
      after = [];
    });

    async function fixture(): Promise<SourceFixture> {
      const f = await setup();
      after.push(() => f.cleanup());
      return f;
    }
    /** Starts a new instance on a new context; stopped after the test if the test did not. */
    async function start(f: SourceFixture, context: MemoryContextOptions = {}): Promise<{ source: Source; ctx: MemoryContext; stop: () => Promise<void> }> {
      const source = f.create();
      const ctx = new MemoryContext({ sourceId: source.id, ...context });
      // As the runtime does: abort the context, then stop.
      const stop = async (): Promise<void> => {
        ctx.controller.abort();
        await source.stop();
      };
      after.push(stop);
      await source.start(ctx);
      return { source, ctx, stop };
    }
    const numbers = (f: SourceFixture, ctx: MemoryContext): number[] => ctx.envelopes().map((e) => f.numberOf(e));
    const upTo = (count: number): number[] => Array.from({ length: count }, (_, n) => n);
    const sorted = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);

    it('restarts from its checkpoints: every record once across the stop, and none committed after stop() resolved', async () => {
      const f = await fixture();
      const first = await start(f);
      await f.produce(0, records);
      // Stopped as soon as something is committed: wherever in the input that happens to be.
      await first.ctx.until(() => first.ctx.committed.length > 0);
      // stop() alone, without the runtime's abort: the contract says it stops the source by itself.
      await first.source.stop();
      const committedBeforeStop = first.ctx.committed.length;
      const total = records + Math.ceil(records / 10);
      const more = f.produce(records, total);
      const second = await start(f, { checkpoints: first.ctx.store });
      await more;
      await waitFor(() => new Set([...numbers(f, first.ctx), ...numbers(f, second.ctx)]).size >= total, { timeoutMs: 30_000, what: `${total} records across the restart` });
      await second.stop();
      expect(first.ctx.committed).toHaveLength(committedBeforeStop);
      const all = [...first.ctx.envelopes(), ...second.ctx.envelopes()];
      expect(sorted(all.map((e) => f.numberOf(e)))).toEqual(upTo(total));
      expect(new Set(all.map((e) => e.id)).size).toBe(total);
    });

    it('stops idempotently: twice at once, then again', async () => {
      const f = await fixture();
      const { source, ctx } = await start(f);
      await f.produce(0, 10);
      await waitFor(() => numbers(f, ctx).length >= 10, { what: 'the first records' });
      ctx.controller.abort();
      await Promise.all([source.stop(), source.stop()]);
      await source.stop();
      expect(source.status().state).toBe('stopped');
      expect(sorted(numbers(f, ctx))).toEqual(upTo(10));
    });

    it('holds back while the outbox is full and, once there is room again, loses and repeats nothing', async () => {
      const f = await fixture();
      const { ctx } = await start(f, { maxRows: outboxRows, autoAck: false });
      const count = pastFull;
      const produced = f.produce(0, count);
      const { whenFull } = f;
      await waitFor(() => (whenFull === 'waits' ? ctx.waitingForRoom > 0 : whenFull.refusals() > 0), { what: 'the source to hold back' });
      expect(ctx.committed.length).toBeLessThan(count);
      // The shipper catches up: acknowledges whatever is pending, again and again.
      await waitFor(
        () => {
          ctx.ack();
          return new Set(numbers(f, ctx)).size >= count;
        },
        { timeoutMs: 30_000, what: `${count} records through a full outbox` },
      );
      await produced;
      expect(sorted(numbers(f, ctx))).toEqual(upTo(count));
      expect(new Set(ctx.envelopes().map((e) => e.id)).size).toBe(count);
    });
  });
}
