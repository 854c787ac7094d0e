import type { Logger } from '@sluice/shared/node/logger';
import type { Envelope, SourceKind } from '@sluice/shared/envelope';
import type { Clock } from '@sluice/shared/clock';
import type { WireFormat } from '@sluice/shared/envelope-wire';
import type { FrameMessage } from '../outbox/frame.ts';

/** A message as a source commits it to the outbox: what a frame carries, plus its group. */
export interface OutboxMessage extends FrameMessage {
  /**
   * The whole minute (epoch ms) of the record's ingestTime, for the shipped-records ledger; absent on
   * messages that are not records (blob chunks).
   */
  minute?: number;
  /**
   * Groups messages that must all be acknowledged before the source may act (e.g. a dropped file's sha256:
   * the file moves to done/ only when its group is drained).
   */
  group?: string;
}

/** Where a dataset's messages go and what they carry besides the envelope. */
export interface MessageRoute {
  topic: string;
  headers: Readonly<Record<string, string>>;
  partitionKey?: string | undefined;
  /**
   * The envelope form on the wire (docs/envelope.md): v2 (compact; the encoder takes its headers from
   * envelope-wire.ts `compactHeaders`, one object per source and file) or v1 (whole envelopes with `headers`,
   * for a control plane that reads only v1). Absent: v1.
   */
  wire?: WireFormat;
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
  /**
   * Set by the runtime, never by a source: since when a commit has been waiting for outbox room and why
   * (`state` is then `paused`).
   */
  paused?: { since: string; reason: string };
  /**
   * Set by the source once it has been through what there was to read at least once (the first scan of its
   * files or folder, the first complete poll; a push source once it listens), whether or not that found
   * records. With `firstCommitAt` it tells a fleet apply that the source works (control/config-applier.ts).
   */
  caughtUp?: boolean;
  /** Set by the runtime, never by a source: when this run of the source first committed records. */
  firstCommitAt?: string;
  /** Set by the runtime, never by a source: when this run of the source last committed records. */
  lastCommitAt?: string;
}

/** What `tryCommit` did: committed, or refused because the outbox is over its bounds or the disk is full. */
export type TryCommitResult =
  | { readonly committed: true }
  | { readonly committed: false; readonly full: 'bounds' | 'disk-full'; readonly message: string };

export interface SourceContext {
  readonly agentId: string;
  readonly log: Logger;
  /** Aborted when the source must stop. */
  readonly signal: AbortSignal;
  /** Time, for every wait and timestamp a source takes (tests drive it with a manual clock). */
  readonly clock: Clock;
  /** Builds the outbox message for an envelope: topic from the dataset, key, headers (docs/architecture.md). */
  toMessage(envelope: Envelope, group?: string): OutboxMessage;
  /**
   * For a source that encodes its envelopes itself (the file source's hot path): where a dataset's messages
   * go. Such a source counts what it read with `countRead`; `toMessage` counts by itself.
   */
  route(dataset: string): MessageRoute;
  countRead(records: number): void;
  /**
   * Commits messages and checkpoints in one transaction. While the outbox is full this waits for room
   * (backpressure: the source is reported `paused`, nothing is dropped) and tries again. Rejects with the
   * signal's reason once the source must stop, before or while waiting: a stopped source commits nothing more.
   */
  commit(messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[], options?: { fsync?: boolean }): Promise<void>;
  /**
   * Commits like `commit`, but never waits: a full outbox is answered at once (nothing written), for a source
   * whose caller must hear "later" rather than wait (http-push answers 429).
   */
  tryCommit(messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[], options?: { fsync?: boolean }): TryCommitResult;
  /** Reads a committed checkpoint. */
  checkpoint(key: string): string | undefined;
  /** All committed checkpoints of this source, by key. */
  checkpoints(): Map<string, string>;
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
