/**
 * The one place that knows which sinks exist (CONVENTIONS §4): sink name → factory. The pipeline asks the
 * registry for the sinks a dataset enables and never grows a switch of its own; a new sink is a new folder
 * plus one line here.
 *
 *   const sinks = createSinks(env, logger);                  // one instance per sink, shared by all datasets
 *   for (const name of enabledSinkNames(dataset.spec)) await sinks.get(name)!.write(batch);
 */
import type { DatasetSpec } from '@sluice/shared/dataset';
import type { Logger } from '@sluice/shared/node/logger';
import type { Sink } from './sink.ts';
import { ObjectStoreSink, objectStoreConfigFromEnv } from './object-store/object-store-sink.ts';
import { PostgresSink, postgresSinkConfigFromEnv } from './postgres/postgres-sink.ts';
import { SearchSink, searchSinkConfigFromEnv } from './search/search-sink.ts';

export interface SinkContext {
  /** Where addresses and credentials come from (SLUICE_PG_URL, SLUICE_SEARCH_URL, SLUICE_S3_* ...). */
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

export type SinkFactory = (context: SinkContext) => Sink;

interface SinkRegistration {
  /** The key of this sink's settings in a dataset spec (`spec.sinks.<key>`). */
  specKey: keyof NonNullable<DatasetSpec['sinks']>;
  create: SinkFactory;
}

const registrations = new Map<string, SinkRegistration>([
  ['postgres', { specKey: 'postgres', create: ({ env, logger }) => new PostgresSink({ ...postgresSinkConfigFromEnv(env), logger: logger.child({ sink: 'postgres' }) }) }],
  ['search', { specKey: 'search', create: ({ env, logger }) => new SearchSink({ ...searchSinkConfigFromEnv(env), logger: logger.child({ sink: 'search' }) }) }],
  ['object-store', { specKey: 'objectStore', create: ({ env, logger }) => new ObjectStoreSink({ ...objectStoreConfigFromEnv(env), logger: logger.child({ sink: 'object-store' }) }) }],
]);

export function sinkNames(): string[] {
  return [...registrations.keys()];
}

export function createSink(name: string, context: SinkContext): Sink {
  const registration = registrations.get(name);
  if (!registration) throw new TypeError(`unknown sink ${JSON.stringify(name)}; known: ${sinkNames().join(', ')}`);
  return registration.create(context);
}

/** One instance of every registered sink, by name. */
export function createSinks(context: SinkContext): Map<string, Sink> {
  return new Map(sinkNames().map((name) => [name, createSink(name, context)]));
}

/** Names of the sinks a dataset sends its records to, in registry order. */
export function enabledSinkNames(spec: DatasetSpec): string[] {
  return [...registrations].filter(([, r]) => spec.sinks[r.specKey]?.enabled === true).map(([name]) => name);
}
