/**
 * An in-memory SourceContext for source unit tests: the outbox semantics sources rely on (atomic commit of
 * messages + checkpoints, commits waiting for room over a row bound (tryCommit refusing), drained() resolving
 * as a fake shipper acknowledges) without SQLite or Kafka. Checkpoints can be shared between two contexts to simulate
 * a restart after a crash: a new source instance reads what the old one committed.
 */
import { createLogger } from '@sluice/shared/node/logger';
import { systemClock, type Clock } from '@sluice/shared/clock';
import type { Checkpoint, MessageRoute, OutboxMessage, SourceContext, TryCommitResult } from '../../src/sources/source.ts';
import { CONTENT_TYPES, DEFAULT_TOPIC_PREFIX, KAFKA_HEADERS, topicForDataset, type Envelope } from '@sluice/shared/envelope';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { routeFor } from '../../src/runtime/to-message.ts';


export interface MemoryContextOptions {
  agentId?: string;
  sourceId?: string;
  /** Pending (unacknowledged) rows above which commit waits for room and tryCommit refuses. */
  maxRows?: number;
  /** Acknowledge every commit at once (a shipper that never lags). */
  autoAck?: boolean;
  /** Committed checkpoints to start from (another context's `store`, after a "crash"). */
  checkpoints?: Map<string, string>;
  /** The source's time (a ManualClock lets a test drive its waits). */
  clock?: Clock;
  /** Called before a commit is applied; throw to simulate a crash or a disk error (nothing is written). */
  beforeCommit?: (messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[]) => void;
}

export class MemoryContext implements SourceContext {
  readonly agentId: string;
  readonly sourceId: string;
  readonly log = createLogger('test', { level: process.env.SLUICE_TEST_LOG ?? 'silent' });
  readonly controller: AbortController = new AbortController();
  readonly signal: AbortSignal = this.controller.signal;
  readonly clock: Clock;
  /** Groups a source is waiting on in `drained()` right now. */
  readonly draining = new Set<string>();
  /** Commits waiting for room right now (what the runtime reports as `paused`). */
  waitingForRoom = 0;
  /** Every message ever committed, in commit order. */
  readonly committed: OutboxMessage[] = [];
  /** Committed but not yet acknowledged by the fake shipper. */
  readonly pending: OutboxMessage[] = [];
  readonly store: Map<string, string>;
  readonly errors: { error: unknown; context: Record<string, unknown> | undefined }[] = [];
  commits = 0;
  private readonly maxRows: number;
  private readonly autoAck: boolean;
  private readonly beforeCommit: MemoryContextOptions['beforeCommit'];
  private capacityWaiters: (() => void)[] = [];
  private drainWaiters: { group: string; resolve: () => void }[] = [];
  private commitWaiters: { predicate: () => boolean; resolve: () => void }[] = [];

  constructor(options: MemoryContextOptions = {}) {
    this.agentId = options.agentId ?? 'agent1';
    this.sourceId = options.sourceId ?? 'src1';
    this.maxRows = options.maxRows ?? Infinity;
    this.autoAck = options.autoAck ?? true;
    this.store = options.checkpoints ?? new Map<string, string>();
    this.beforeCommit = options.beforeCommit;
    this.clock = options.clock ?? systemClock;
  }

  toMessage(envelope: Envelope, group?: string): OutboxMessage {
    return {
      topic: topicForDataset(envelope.dataset),
      key: envelope.id,
      value: Buffer.from(JSON.stringify(envelope)),
      headers: {
        [KAFKA_HEADERS.dataset]: envelope.dataset,
        [KAFKA_HEADERS.agentId]: envelope.agentId,
        [KAFKA_HEADERS.schemaVersion]: String(envelope.schemaVersion ?? 1),
        [KAFKA_HEADERS.contentType]: CONTENT_TYPES.envelope,
      },
      ...(group === undefined ? {} : { group }),
    };
  }

  route(dataset: string): MessageRoute {
    return routeFor(dataset, this.agentId, { topicPrefix: DEFAULT_TOPIC_PREFIX });
  }

  countRead(): void {
    // counted by the real context's metrics only
  }

  /** Commits that asked to be fsynced (durable against power loss). */
  fsyncCommits = 0;

  async commit(messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[], options?: { fsync?: boolean }): Promise<void> {
    let waited = false;
    try {
      for (;;) {
        this.signal.throwIfAborted();
        if (this.tryCommit(messages, checkpoints, options).committed) return;
        if (!waited) this.waitingForRoom++;
        waited = true;
        await this.capacity();
      }
    } finally {
      if (waited) this.waitingForRoom--;
    }
  }

  tryCommit(messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[], options?: { fsync?: boolean }): TryCommitResult {
    if (this.pending.length > 0 && this.pending.length + messages.length > this.maxRows) return { committed: false, full: 'bounds', message: 'outbox full (test double)' };
    this.beforeCommit?.(messages, checkpoints);
    for (const cp of checkpoints) {
      if (cp.value === null) this.store.delete(cp.key);
      else this.store.set(cp.key, cp.value);
    }
    this.committed.push(...messages);
    this.pending.push(...messages);
    this.commits++;
    if (options?.fsync === true) this.fsyncCommits++;
    if (this.autoAck) this.ack();
    this.wakeCommitWaiters();
    return { committed: true };
  }

  checkpoint(key: string): string | undefined {
    return this.store.get(key);
  }

  checkpoints(): Map<string, string> {
    return new Map(this.store);
  }

  capacity(): Promise<void> {
    if (this.pending.length < this.maxRows) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (this.signal.aborted) return reject(this.signal.reason as Error);
      this.capacityWaiters.push(resolve);
      this.signal.addEventListener('abort', () => reject(this.signal.reason as Error), { once: true });
    });
  }

  drained(group: string): Promise<void> {
    if (!this.pending.some((m) => m.group === group)) return Promise.resolve();
    this.draining.add(group);
    this.wakeCommitWaiters();
    return new Promise((resolve) => {
      this.drainWaiters.push({
        group,
        resolve: () => {
          this.draining.delete(group);
          resolve();
        },
      });
    });
  }

  reportError(error: unknown, context?: Record<string, unknown>): void {
    this.errors.push({ error, context });
  }

  /** The fake shipper acknowledges the oldest `count` pending messages (all by default). */
  ack(count: number = this.pending.length): void {
    this.pending.splice(0, count);
    if (this.pending.length < this.maxRows) {
      const waiters = this.capacityWaiters;
      this.capacityWaiters = [];
      for (const wake of waiters) wake();
    }
    this.drainWaiters = this.drainWaiters.filter((w) => {
      if (this.pending.some((m) => m.group === w.group)) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `predicate` holds after some commit (or at once). */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => this.commitWaiters.push({ predicate, resolve }));
  }

  /** Decoded envelopes of every committed envelope message (blob chunks left out). */
  envelopes(): Envelope[] {
    return this.committed
      .filter((m) => m.headers[KAFKA_HEADERS.contentType] !== CONTENT_TYPES.blobChunk)
      .map((m) => readWireEnvelope(m.key, m.value, m.headers));
  }

  private wakeCommitWaiters(): void {
    this.commitWaiters = this.commitWaiters.filter((w) => {
      if (!w.predicate()) return true;
      w.resolve();
      return false;
    });
  }
}
