/**
 * The sink contract (sinks/sink.ts, sinks/README.md) as one test suite every sink's integration test runs
 * against its real store (Vector's `src/test_util/components.rs` idea): a new sink proves the contract by
 * calling `describeSinkConformance` with a factory. Each factory call gets its own table / index / bucket,
 * so the cases never see each other's records.
 *
 * "The store is down" is a TCP proxy of the test's own between the sink and the store, cut and resumed:
 * the shared stack service keeps running for everyone else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import type { Outcome } from '@sluice/shared/outcome';
import type { Sink } from '../../src/sinks/sink.ts';
import { batch, envelope } from './sink-fixtures.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

/** One sink on a store of its own, as the conformance cases use it. */
export interface SinkUnderTest {
  sink: Sink;
  /**
   * A dataset this sink stores. Its schema must take the payloads the cases write: `{ n: integer, text: string }`.
   */
  dataset: DatasetVersion;
  /** Every record id the store holds for the dataset, one entry per stored copy (a duplicate shows twice). */
  storedIds(): Promise<string[]>;
  /** A record of the dataset this store refuses for what it is (a value its column or mapping cannot take). */
  refused(id: string): Envelope;
  /** Removes the table / index / bucket and anything else this sink's store holds; the kit closes the sink. */
  cleanup(): Promise<void>;
}

export interface SinkConformanceOptions {
  /** Where the real store listens: the store-down case puts its own proxy in front of it. */
  store: { host: string; port: number };
  /** A new sink with its own table / index / bucket, reaching the store at `via` (the kit's proxy) when given. */
  create(via?: { host: string; port: number }): Promise<SinkUnderTest>;
  /** How long the store may take to answer again after the proxy resumes. Default 30 s. */
  recoveryMs?: number;
}

export function describeSinkConformance(name: string, options: SinkConformanceOptions): void {
  describe(`${name} sink conformance`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const clean of cleanups.splice(0).reverse()) await clean();
    });

    async function create(via?: { host: string; port: number }): Promise<SinkUnderTest> {
      const under = await options.create(via);
      cleanups.push(async () => {
        await under.cleanup();
        await under.sink.close();
      });
      return under;
    }
    async function proxy(): Promise<TcpProxy> {
      const p = await startTcpProxy(options.store);
      cleanups.push(() => p.close());
      return p;
    }
    const records = (under: SinkUnderTest, prefix: string, count: number): Envelope[] =>
      Array.from({ length: count }, (_, n) => envelope(under.dataset.spec.name, `${prefix}:${n}`, { n, text: `record ${n}` }));
    const idsOf = (envelopes: readonly Envelope[]): string[] => envelopes.map((e) => e.id).sort();

    it('stores a batch written twice once', async () => {
      const under = await create();
      const written = records(under, 'twice', 5);
      const b = batch(under.dataset, written, 100n);
      expect(await under.sink.write(b)).toEqual({ kind: 'ok', rejected: [] });
      expect(await under.sink.write(b)).toEqual({ kind: 'ok', rejected: [] });
      expect(await under.storedIds()).toEqual(idsOf(written));
    });

    it('prepares idempotently, before and after records are stored, and keeps them', async () => {
      const under = await create();
      expect(await under.sink.prepare(under.dataset)).toEqual({ kind: 'ok' });
      expect(await under.sink.prepare(under.dataset)).toEqual({ kind: 'ok' });
      const written = records(under, 'prepared', 3);
      expect(await under.sink.write(batch(under.dataset, written, 10n))).toEqual({ kind: 'ok', rejected: [] });
      expect(await under.sink.prepare(under.dataset)).toEqual({ kind: 'ok' });
      expect(await under.storedIds()).toEqual(idsOf(written));
      expect(await under.sink.write(batch(under.dataset, written, 10n))).toEqual({ kind: 'ok', rejected: [] });
      expect(await under.storedIds()).toEqual(idsOf(written));
    });

    it('reports the ids of records the store refuses, with a reason, and stores the rest', async () => {
      const under = await create();
      const [first, second] = records(under, 'mixed', 2);
      const b = batch(under.dataset, [first!, under.refused('mixed:refused'), second!], 20n);
      const result = await under.sink.write(b);
      expect(result.kind).toBe('ok');
      expect(result.rejected?.map((r) => r.id)).toEqual(['mixed:refused']);
      expect(result.rejected?.[0]?.reason).toMatch(/\S/);
      expect(await under.storedIds()).toEqual(idsOf([first!, second!]));
    });

    it('answers retryable, without throwing, while the store is down, and stores the batch once when it is back', async () => {
      const cut = await proxy();
      const via = { host: '127.0.0.1', port: cut.port };
      const under = await create(via);
      expect(await under.sink.prepare(under.dataset)).toEqual({ kind: 'ok' });
      const written = records(under, 'outage', 3);
      const b = batch(under.dataset, written, 30n);
      cut.cut();
      expect((await settle(under.sink.write(b))).kind).toBe('retryable');
      // A sink that has not prepared anything yet (a consumer started during the outage) answers the same.
      const fresh = await create(via);
      expect((await settle(fresh.sink.prepare(fresh.dataset))).kind).toBe('retryable');
      expect((await settle(fresh.sink.write(batch(fresh.dataset, records(fresh, 'fresh', 1), 0n)))).kind).toBe('retryable');
      cut.resume();
      const deadline = Date.now() + (options.recoveryMs ?? 30_000);
      let result = await under.sink.write(b);
      while (result.kind !== 'ok' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        result = await under.sink.write(b);
      }
      expect(result).toEqual({ kind: 'ok', rejected: [] });
      expect(await under.storedIds()).toEqual(idsOf(written));
    });

    it('closes idempotently and answers failed to a write after close', async () => {
      const under = await create();
      const written = records(under, 'closed', 2);
      expect((await under.sink.write(batch(under.dataset, written, 40n))).kind).toBe('ok');
      await under.sink.flush();
      await under.sink.close();
      await under.sink.close();
      expect((await settle(under.sink.write(batch(under.dataset, records(under, 'late', 1), 42n)))).kind).toBe('failed');
      expect(await under.storedIds()).toEqual(idsOf(written));
    });
  });
}

/** The sink's answer; a sink that throws for an expected failure breaks the contract, so that fails here. */
async function settle<T extends Outcome>(answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (error) {
    throw new Error(`the sink threw instead of answering an outcome: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
