import { systemClock, type Clock } from '@sluice/shared/clock';
import type { Envelope } from '@sluice/shared/envelope';
import type { WireFormat } from '@sluice/shared/envelope-wire';
import type { Logger } from '@sluice/shared/node/logger';
import { OutboxFullError, type Outbox } from '../outbox/outbox.ts';
import type { Checkpoint, OutboxMessage, SourceContext, SourceState, TryCommitResult } from '../sources/source.ts';
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
  /** The envelope form on the wire (kafka.envelope); v2 when absent. */
  wire?: WireFormat | undefined;
  /** The per-dataset counters of the source's dataset (the fleet check-in's health). */
  totals?: { read: number; committed: number };
  /** Status hook: the last error of this source. */
  onError?: (message: string) => void;
  clock?: Clock;
}

/** A SourceContext as the runtime holds it: it also knows what the source cannot tell, whether it is paused. */
export interface RuntimeSourceContext extends SourceContext {
  /** The source's own state, with `paused` while one of its commits waits for outbox room. */
  status(state: SourceState): SourceState;
}

/** The SourceContext a running source gets: its view of the outbox, metrics and logging. */
export function createSourceContext(options: SourceContextOptions): RuntimeSourceContext {
  const { outbox, sourceId, metrics, signal } = options;
  const clock = options.clock ?? systemClock;
  const messageOptions = { topicPrefix: options.topicPrefix, partitionKey: options.partitionKey, wire: options.wire };
  const logged = new Set<string>();
  const read = metrics.recordsRead.labels({ source: sourceId });
  const committed = metrics.recordsCommitted.labels({ source: sourceId });
  const totals = options.totals ?? { read: 0, committed: 0 };
  let firstCommitAt: string | undefined;
  let lastCommitAt: string | undefined;
  let paused: { since: string; reason: string } | undefined;
  let waiting = 0;
  const attempt = (messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[], commitOptions?: { fsync?: boolean }): TryCommitResult => {
    // A source only ever writes its own checkpoints.
    for (const c of checkpoints) if (c.sourceId !== sourceId) throw new TypeError(`source ${sourceId} wrote a checkpoint of ${c.sourceId}`);
    try {
      outbox.commit(messages, checkpoints, commitOptions);
    } catch (error) {
      if (error instanceof OutboxFullError) return { committed: false, full: error.reason, message: error.message };
      throw error;
    }
    if (messages.length > 0) {
      committed.inc(messages.length);
      totals.committed += messages.length;
      lastCommitAt = new Date(clock.now()).toISOString();
      firstCommitAt ??= lastCommitAt;
    }
    return { committed: true };
  };
  return {
    agentId: options.agentId,
    log: options.log,
    signal,
    clock,
    toMessage(envelope: Envelope, group?: string): OutboxMessage {
      read.inc();
      totals.read++;
      return toMessage(envelope, messageOptions, group);
    },
    route: (dataset) => routeFor(dataset, options.agentId, messageOptions),
    countRead: (records) => {
      read.inc(records);
      totals.read += records;
    },
    async commit(messages, checkpoints, commitOptions): Promise<void> {
      let waited = false;
      try {
        for (;;) {
          signal.throwIfAborted();
          const result = attempt(messages, checkpoints, commitOptions);
          if (result.committed) return;
          if (!waited) {
            waited = true;
            waiting++;
          }
          paused = { since: paused?.since ?? new Date(clock.now()).toISOString(), reason: result.message };
          await outbox.capacity(signal);
        }
      } finally {
        // A source may have several commits waiting (the drop source's moves beside its reads).
        if (waited && --waiting === 0) paused = undefined;
      }
    },
    tryCommit: attempt,
    checkpoint: (key) => outbox.checkpoint(sourceId, key),
    checkpoints: () => outbox.checkpoints(sourceId),
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
    status: (state) => {
      const withCommit = firstCommitAt === undefined || lastCommitAt === undefined ? state : { ...state, firstCommitAt, lastCommitAt };
      return paused === undefined ? withCommit : { ...withCommit, state: 'paused', paused };
    },
  };
}
