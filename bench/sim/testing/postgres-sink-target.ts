/**
 * For tests that want panes without a running consumer: the simulator's batches written the way the
 * consumer writes them, as envelopes through the real PostgreSQL sink (which folds them into the 1-minute
 * panes in the same transaction). Ids are the run's batch key + index, as at the ingest API.
 */
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { createLogger } from '@sluice/shared/node/logger';
import { PaneStore } from '@sluice/control-plane/analytics/pane-store';
import { PostgresSink } from '@sluice/control-plane/sinks/postgres/postgres-sink';
import type { SimEvent } from '../event-stream.ts';
import type { SendResult, SimTarget } from '../targets/target.ts';

export interface PostgresSinkTargetOptions {
  connectionString: string;
  /** Where the dataset's table is (the control plane's SLUICE_DATA_SCHEMA). */
  dataSchema: string;
  /** Where analytics_panes is (SLUICE_STATE_SCHEMA). */
  stateSchema: string;
  dataset: DatasetVersion;
  /** The envelope's agent id for an event (default `sluice-sim`). */
  agentOf?: (event: SimEvent) => string;
}

export class PostgresSinkTarget implements SimTarget {
  readonly name = 'stdout' as const;
  readonly #sink: PostgresSink;
  readonly #dataset: DatasetVersion;
  readonly #agentOf: (event: SimEvent) => string;
  #offset = 0n;

  /** A sink of its own (closed by close()), with the dataset's table made ready. */
  static async open(o: PostgresSinkTargetOptions): Promise<PostgresSinkTarget> {
    const sink = new PostgresSink({
      connectionString: o.connectionString,
      schema: o.dataSchema,
      panes: new PaneStore(o.stateSchema),
      poolSize: 2,
      logger: createLogger('sim-sink', { level: 'warn' }),
    });
    const prepared = await sink.prepare(o.dataset);
    if (prepared.kind !== 'ok') {
      await sink.close();
      throw new Error(
        `the PostgreSQL sink could not prepare ${o.dataset.spec.name}: ${JSON.stringify(prepared)}`,
      );
    }
    return new PostgresSinkTarget(sink, o.dataset, o.agentOf ?? (() => 'sluice-sim'));
  }

  private constructor(sink: PostgresSink, dataset: DatasetVersion, agentOf: (event: SimEvent) => string) {
    this.#sink = sink;
    this.#dataset = dataset;
    this.#agentOf = agentOf;
  }

  async send(events: readonly SimEvent[], key: string): Promise<SendResult> {
    const ds = this.#dataset;
    const topic = `sluice.${ds.spec.name}`;
    const records = events.map((e, i) => {
      const envelope: Envelope = {
        id: `sim:${key}:${String(i)}`,
        dataset: ds.spec.name,
        agentId: this.#agentOf(e),
        source: { id: 'sim', kind: 'api' },
        eventTime: new Date(e.eventTimeMs).toISOString(),
        ingestTime: new Date().toISOString(),
        schemaVersion: ds.version,
        payload: e.payload,
      };
      return { envelope, topic, partition: 0, offset: this.#offset + BigInt(i) };
    });
    const result = await this.#sink.write({
      dataset: ds,
      topic,
      partition: 0,
      firstOffset: records[0]!.offset,
      lastOffset: records.at(-1)!.offset,
      records,
    });
    this.#offset += BigInt(records.length);
    if (result.kind !== 'ok') throw new Error(`the PostgreSQL sink answered ${JSON.stringify(result)}`);
    return { accepted: events.length, rejected: 0, reasons: [] };
  }

  close(): Promise<void> {
    return this.#sink.close();
  }
}
