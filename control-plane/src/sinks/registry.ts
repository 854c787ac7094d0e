/**
 * The one place that knows which sinks exist (CONVENTIONS §4), keyed like a dataset's `sinks` settings.
 * `sinkFactories` must have an entry for every key of the dataset schema's `sinks`, so a new sink kind does
 * not compile until it has a factory; the pipeline asks `SinkRegistry.forDataset` and never switches on names.
 * Every option a sink takes from the operator comes from ControlPlaneConfig (config.ts) through the
 * `*SinkConfig` functions below, which tests and the bench use too, so they run the sinks production runs.
 *
 *   const { registry, blobs } = buildSinks(config, logger);   // one instance per sink, shared by all datasets
 *   const { sinks, missing } = registry.forDataset(dataset.spec);
 */
import type { DatasetSinks, DatasetSpec, DatasetVersion } from '@sluice/shared/dataset';
import type { Logger } from '@sluice/shared/node/logger';
import type { Outcome } from '@sluice/shared/outcome';
import type { ControlPlaneConfig } from '../config.ts';
import { PaneStore } from '../analytics/pane-store.ts';
import { createPool } from '../db/pool.ts';
import type { BlobAssembler } from './object-store/blob-assembler.ts';
import { IdLedger } from './object-store/id-ledger.ts';
import { PartitionStats } from '../lake/partitions/partition-stats.ts';
import { ObjectStoreSink, type ObjectStoreSinkConfig } from './object-store/object-store-sink.ts';
import { PostgresSink, type PostgresSinkConfig } from './postgres/postgres-sink.ts';
import { SearchSink, type SearchSinkConfig } from './search/search-sink.ts';
import type { Sink } from './sink.ts';

export type SinkKey = keyof DatasetSinks;

export interface SinkContext {
  config: ControlPlaneConfig;
  logger: Logger;
}

type SinkFactories = { [K in SinkKey]: (context: SinkContext) => Sink };

export function postgresSinkConfig(config: ControlPlaneConfig): PostgresSinkConfig {
  return { connectionString: config.pgUrl, schema: config.dataSchema };
}

export function searchSinkConfig(config: ControlPlaneConfig): SearchSinkConfig {
  const { url, username, password, apiKey, replicas, refreshInterval } = config.search;
  return {
    url,
    ...(username === undefined ? {} : { username, password: password ?? '' }),
    ...(apiKey === undefined ? {} : { apiKey }),
    template: { ...(replicas === undefined ? {} : { replicas }), ...(refreshInterval === undefined ? {} : { refreshInterval }) },
  };
}

/** Without the id ledger: `sinkFactories.objectStore` adds it when the dedupe window is on. */
export function objectStoreSinkConfig(config: ControlPlaneConfig): ObjectStoreSinkConfig {
  const { endpoint, accessKey, secretKey, region, bucket } = config.s3;
  return { endpoint, accessKey, secretKey, bucket, ...(region === undefined ? {} : { region }) };
}

export const sinkFactories = {
  // Analytics panes (docs/analytics.md) are folded in each write's transaction.
  postgres: ({ config, logger }) => new PostgresSink({ ...postgresSinkConfig(config), panes: new PaneStore(config.stateSchema), logger: logger.child({ sink: 'postgres' }) }),
  search: ({ config, logger }) => new SearchSink({ ...searchSinkConfig(config), logger: logger.child({ sink: 'search' }) }),
  objectStore: ({ config, logger }) =>
    new ObjectStoreSink({
      ...objectStoreSinkConfig(config),
      // A pool of its own: a claim holds its connection while the segment uploads.
      ...(config.s3.dedupeWindowMs > 0
        ? { ledger: new IdLedger({ pool: createPool(config.pgUrl, config.stateSchema, 8), ownsPool: true, retentionMs: config.s3.dedupeWindowMs, logger: logger.child({ sink: 'object-store' }) }) }
        : {}),
      // Lake partition statistics (lake_segments, docs/lake.md); a small pool: one upsert per segment.
      stats: new PartitionStats({ pool: createPool(config.pgUrl, config.stateSchema, 2), ownsPool: true }),
      logger: logger.child({ sink: 'object-store' }),
    }),
} satisfies SinkFactories;

/** Every sink kind, in the order the dataset schema lists them. */
export const SINK_KEYS = Object.keys(sinkFactories) as SinkKey[];

/** Which sink instance serves which key of a dataset's `sinks` settings. */
export class SinkRegistry {
  readonly #sinks = new Map<SinkKey, Sink>();

  register(key: SinkKey, sink: Sink): this {
    this.#sinks.set(key, sink);
    return this;
  }

  all(): Sink[] {
    return [...this.#sinks.values()];
  }

  /** The dataset's enabled sinks, and the enabled ones this process has no instance for. */
  forDataset(spec: DatasetSpec): { sinks: Sink[]; missing: SinkKey[] } {
    const sinks: Sink[] = [];
    const missing: SinkKey[] = [];
    for (const key of Object.keys(spec.sinks) as SinkKey[]) {
      if (spec.sinks[key]?.enabled !== true) continue;
      const sink = this.#sinks.get(key);
      if (sink) sinks.push(sink);
      else missing.push(key);
    }
    return { sinks, missing };
  }

  /** The DatasetStore's hook: each enabled sink prepares for a new version (the postgres sink ALTERs). */
  async prepare(dataset: DatasetVersion): Promise<Array<{ sink: string; outcome: Outcome }>> {
    const { sinks } = this.forDataset(dataset.spec);
    return Promise.all(sinks.map(async (sink) => ({ sink: sink.name, outcome: await sink.prepare(dataset) })));
  }
}

export interface BuiltSinks {
  registry: SinkRegistry;
  /** Where the consumer sends blob chunks: the object store's assembler. */
  blobs: BlobAssembler | undefined;
}

type SinkInstances = { [K in SinkKey]: ReturnType<(typeof sinkFactories)[K]> };

/** One instance of every sink kind, built from the process's config. */
export function buildSinks(config: ControlPlaneConfig, logger: Logger): BuiltSinks {
  const context: SinkContext = { config, logger };
  const instances = Object.fromEntries(SINK_KEYS.map((key) => [key, sinkFactories[key](context)])) as SinkInstances;
  const registry = new SinkRegistry();
  for (const key of SINK_KEYS) registry.register(key, instances[key]);
  return { registry, blobs: instances.objectStore.blobs };
}
