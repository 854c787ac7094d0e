/**
 * Builds the sinks this process runs from its config and registers each under its dataset settings key.
 * Adding a sink is a line here and a folder under sinks/, never a branch in the pipeline.
 */
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Logger } from '@sluice/shared/node/logger';
import type { Outcome } from '@sluice/shared/outcome';
import type { ControlPlaneConfig } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { IdLedger } from '../sinks/object-store/id-ledger.ts';
import { ObjectStoreSink } from '../sinks/object-store/object-store-sink.ts';
import { PostgresSink } from '../sinks/postgres/postgres-sink.ts';
import { SearchSink } from '../sinks/search/search-sink.ts';
import type { BlobStore } from './pipeline.ts';
import { SinkRegistry } from './sink-registry.ts';

export interface BuiltSinks {
  registry: SinkRegistry;
  blobs: BlobStore | undefined;
}

export function buildSinks(config: ControlPlaneConfig, logger: Logger): BuiltSinks {
  const registry = new SinkRegistry();
  registry.register('postgres', new PostgresSink({ connectionString: config.pgUrl, schema: config.dataSchema, logger: logger.child({ sink: 'postgres' }) }));
  registry.register('search', new SearchSink({ url: config.searchUrl, logger: logger.child({ sink: 'search' }) }));
  const objects = new ObjectStoreSink({
    endpoint: config.s3.endpoint,
    accessKey: config.s3.accessKey,
    secretKey: config.s3.secretKey,
    bucket: config.s3.bucket,
    // A pool of its own: a claim holds its connection while the segment uploads.
    ...(config.s3.dedupeWindowMs > 0
      ? { ledger: new IdLedger({ pool: createPool(config.pgUrl, config.stateSchema, 8), ownsPool: true, retentionMs: config.s3.dedupeWindowMs, logger: logger.child({ sink: 'object-store' }) }) }
      : {}),
    logger: logger.child({ sink: 'object-store' }),
  });
  registry.register('objectStore', objects);
  return { registry, blobs: objects.blobs };
}

/** The DatasetStore's hook: each enabled sink prepares for a new version (the postgres sink ALTERs). */
export function prepareWith(registry: SinkRegistry) {
  return async (dataset: DatasetVersion): Promise<Array<{ sink: string; outcome: Outcome }>> => {
    const { sinks } = registry.forDataset(dataset.spec);
    return Promise.all(sinks.map(async (sink) => ({ sink: sink.name, outcome: await sink.prepare(dataset) })));
  };
}
