import type { Envelope } from '@sluice/shared/envelope';
import type { Logger } from '@sluice/shared/node/logger';
import type { Outbox } from '../outbox/outbox.ts';
import type { Checkpoint, OutboxMessage, SourceContext } from '../sources/source.ts';
import type { AgentMetrics } from './metrics.ts';
import { routeFor, toMessage } from './to-message.ts';

export interface SourceContextOptions {
  agentId: string;
  sourceId: string;
  outbox: Outbox;
  log: Logger;
  signal: AbortSignal;
  metrics: AgentMetrics;
  topicPrefix: string;
  partitionKey?: string | undefined;
  /** Status hook: the last error of this source. */
  onError?: (message: string) => void;
}

/** The SourceContext a running source gets: its view of the outbox, metrics and logging. */
export function createSourceContext(options: SourceContextOptions): SourceContext {
  const { outbox, sourceId, metrics, signal } = options;
  const messageOptions = { topicPrefix: options.topicPrefix, partitionKey: options.partitionKey };
  const logged = new Set<string>();
  const read = metrics.recordsRead.labels({ source: sourceId });
  const committed = metrics.recordsCommitted.labels({ source: sourceId });
  return {
    agentId: options.agentId,
    log: options.log,
    signal,
    toMessage(envelope: Envelope, group?: string): OutboxMessage {
      read.inc();
      return toMessage(envelope, messageOptions, group);
    },
    route: (dataset) => routeFor(dataset, options.agentId, messageOptions),
    countRead: (records) => read.inc(records),
    commit(messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[], commitOptions?: { fsync?: boolean }): void {
      // A source only ever writes its own checkpoints.
      for (const c of checkpoints) if (c.sourceId !== sourceId) throw new TypeError(`source ${sourceId} wrote a checkpoint of ${c.sourceId}`);
      outbox.commit(messages, checkpoints, commitOptions);
      if (messages.length > 0) committed.inc(messages.length);
    },
    checkpoint: (key) => outbox.checkpoint(sourceId, key),
    checkpoints: () => outbox.checkpoints(sourceId),
    capacity: () => outbox.capacity(signal),
    drained: (group) => outbox.drained(group, signal),
    reportError(error: unknown, context?: Record<string, unknown>): void {
      metrics.sourceErrors.inc({ source: sourceId });
      const message = error instanceof Error ? error.message : String(error);
      options.onError?.(message);
      // Logged once per distinct message so a broken endpoint does not flood the log.
      if (!logged.has(message)) {
        if (logged.size > 1000) logged.clear();
        logged.add(message);
        options.log.warn({ err: error, source: sourceId, ...context }, 'source error');
      }
    },
  };
}
