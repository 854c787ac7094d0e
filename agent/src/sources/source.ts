import type { Logger } from '@sluice/shared/node/logger';
import type { Envelope, SourceKind } from '@sluice/shared/envelope';
import type { FrameMessage } from '../outbox/frame.ts';
import type { MessageRoute } from '../runtime/to-message.ts';

/** A message as a source commits it to the outbox: what a frame carries, plus its group. */
export interface OutboxMessage extends FrameMessage {
  /**
   * Groups messages that must all be acknowledged before the source may act (e.g. a dropped file's sha256:
   * the file moves to done/ only when its group is drained).
   */
  group?: string;
}

/** A source's read position, committed in the same SQLite transaction as the messages read up to it. */
export interface Checkpoint {
  sourceId: string;
  /** What the position is of: a file identity, an endpoint, a dropped file. */
  key: string;
  /** Opaque to the outbox; a source's own JSON. `null` deletes the checkpoint. */
  value: string | null;
}

export interface SourceState {
  state: 'starting' | 'running' | 'paused' | 'backoff' | 'stopped' | 'failed';
  /** Human-readable position, e.g. `app.log@10240` or `cursor=abc`. */
  position?: string;
  lastError?: { at: string; message: string };
  /** Source-specific details shown in /status (breaker state, files tracked, ...). */
  details?: Record<string, unknown>;
}

export interface SourceContext {
  readonly agentId: string;
  readonly log: Logger;
  /** Aborted when the source must stop. */
  readonly signal: AbortSignal;
  /** Builds the outbox message for an envelope: topic from the dataset, key, headers (docs/architecture.md). */
  toMessage(envelope: Envelope, group?: string): OutboxMessage;
  /**
   * For a source that encodes its envelopes itself (the file source's hot path): where a dataset's messages
   * go. Such a source counts what it read with `countRead`; `toMessage` counts by itself.
   */
  route(dataset: string): MessageRoute;
  countRead(records: number): void;
  /**
   * Commits messages and checkpoints in one transaction. Throws OutboxFullError when the outbox is over its
   * bounds (nothing was written): await `capacity()` and try again.
   */
  commit(messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[], options?: { fsync?: boolean }): void;
  /** Reads a committed checkpoint. */
  checkpoint(key: string): string | undefined;
  /** All committed checkpoints of this source, by key. */
  checkpoints(): Map<string, string>;
  /** Resolves when the outbox has room again (backpressure); rejects when `signal` aborts. */
  capacity(): Promise<void>;
  /** Resolves when every message of `group` has been acknowledged by Kafka and left the outbox. */
  drained(group: string): Promise<void>;
  /** Counts a source error (metric + status) and logs it once per distinct message. */
  reportError(error: unknown, context?: Record<string, unknown>): void;
}

/** A source (CONVENTIONS §1): one folder per kind under agent/src/sources/, registered in registry.ts. */
export interface Source {
  readonly id: string;
  readonly kind: SourceKind;
  start(ctx: SourceContext): Promise<void>;
  /** Stops reading; resolves when nothing more will be committed. Idempotent. */
  stop(): Promise<void>;
  status(): SourceState;
}
