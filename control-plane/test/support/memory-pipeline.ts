import type { DatasetVersion } from '@sluice/shared/dataset';
import { createLogger } from '@sluice/shared/node/logger';
import type { DeadLetters, DlqEntry } from '../../src/consumer/dead-letters.ts';
import { Pipeline, type PipelineOptions } from '../../src/consumer/pipeline.ts';
import { ValidatorCache } from '../../src/datasets/validators.ts';
import { ControlPlaneMetrics } from '../../src/metrics/metrics.ts';
import { SinkRegistry } from '../../src/sinks/registry.ts';
import { MemorySink } from './memory-sink.ts';

export class MemoryDeadLetters implements DeadLetters {
  readonly entries: DlqEntry[] = [];
  write(entries: readonly DlqEntry[]): Promise<void> {
    this.entries.push(...entries);
    return Promise.resolve();
  }
}

export interface MemoryPipeline {
  pipeline: Pipeline;
  pg: MemorySink;
  search: MemorySink;
  dlq: MemoryDeadLetters;
  metrics: ControlPlaneMetrics;
}

/**
 * A Pipeline over in-memory `postgres` and `search` sinks and DLQ, for the datasets given; `options` adds or
 * overrides (retry, breaker, budget, clock...). `onCleanup` receives what closes it, in the order to run.
 */
export function memoryPipeline(
  datasets: ReadonlyMap<string, DatasetVersion>,
  options: Partial<PipelineOptions>,
  onCleanup: (...steps: Array<() => Promise<void> | void>) => void,
): MemoryPipeline {
  const pg = new MemorySink('postgres');
  const search = new MemorySink('search');
  const dlq = new MemoryDeadLetters();
  const metrics = new ControlPlaneMetrics();
  const shutdown = new AbortController();
  const pipeline = new Pipeline({
    datasets: { latest: (name) => Promise.resolve(datasets.get(name)) },
    validators: new ValidatorCache(),
    sinks: new SinkRegistry().register('postgres', pg).register('search', search),
    deadLetters: dlq,
    metrics,
    logger: createLogger('test', { level: 'silent' }),
    signal: shutdown.signal,
    ...options,
  });
  onCleanup(() => pipeline.close(), () => shutdown.abort());
  return { pipeline, pg, search, dlq, metrics };
}
