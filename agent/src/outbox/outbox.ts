/**
 * The durable outbox (docs/architecture.md, hop 2): SQLite in WAL mode holding the messages not yet acknowledged by
 * Kafka and each source's read position. A source commits its records and its new position in ONE
 * transaction, so after a crash the position and the records agree: nothing lost, nothing duplicated between
 * source and outbox. A commit is stored as frames (frame.ts: many messages per row, zstd-compressed); the
 * shipper reads frames in `seq` order and deletes a frame only when the broker acknowledged all of it.
 * "Rows" in the bounds and stats count messages (records), not frames.
 *
 * States: `ok` ⇄ `full` (over maxBytes/maxRows: commits are refused with OutboxFullError until the shipper
 * deletes) and `ok` ⇄ `disk-full` (SQLITE_FULL: reported, commits refused, retried every second until one
 * succeeds).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from '@sluice/shared/errors';
import type { Checkpoint, OutboxMessage } from '../sources/source.ts';
import type { Compression } from '@sluice/shared/node/kafka';
import type { RecordBatch } from '@sluice/shared/node/kafka-record-batch';
import { CODEC, decodeBatches, decodeFrame, encodeFrame, payloadBytesOf, type Codec, type DecodedMessage, type EncodedFrame } from './frame.ts';
import { frameLedger, ShippedLedger } from './shipped-ledger.ts';

export type Synchronous = 'FULL' | 'NORMAL' | 'OFF';

export interface OutboxOptions {
  /** The SQLite file; its folder is created. */
  file: string;
  maxBytes: number;
  maxRows: number;
  synchronous: Synchronous;
  /**
   * Store frames that can be (one topic and headers, no partition keys) as Kafka record batches compressed
   * so (frame.ts): encoded once, here, and sent as they are.
   */
  recordBatches?: Compression;
}

/** The outbox cannot take the commit now (over its bounds, or the disk is full); nothing was written. */
export class OutboxFullError extends SluiceError {
  readonly reason: 'bounds' | 'disk-full';
  constructor(reason: 'bounds' | 'disk-full', message: string, options?: { cause?: unknown }) {
    super('UnavailableError', message, { retryAfterSeconds: 1 }, options);
    this.reason = reason;
  }
}

/** A frame as the shipper gets it: its messages and what acknowledging it frees. */
export interface OutboxFrame {
  seq: number;
  group?: string;
  records: number;
  bytes: number;
  messages: DecodedMessage[];
  /** For a frame stored as record batches: those (and `messages` is empty). */
  batches?: RecordBatch[];
  /** Its records per dataset and minute (shipped-ledger.ts), counted when it is acknowledged. */
  ledger?: string;
}

export interface OutboxStats {
  state: 'ok' | 'full' | 'disk-full';
  rows: number;
  bytes: number;
  oldestAgeSeconds: number;
  maxRows: number;
  maxBytes: number;
  lastError?: { at: string; message: string };
}

interface FrameRow {
  seq: number;
  grp: string | null;
  records: number;
  bytes: number;
  codec: Codec;
  body: Buffer;
  ledger: string | null;
}

interface PendingFrame extends EncodedFrame {
  group: string | null;
  records: number;
  ledger: string | null;
}

const DISK_FULL_RETRY_MS = 1000;
/** A commit is cut into frames of at most this many messages / payload bytes (and one group each). */
const FRAME_MAX_RECORDS = 10_000;
const FRAME_MAX_BYTES = 4 * 1024 * 1024;

export class Outbox {
  readonly #db: Database.Database;
  readonly #maxBytes: number;
  readonly #maxRows: number;
  readonly #synchronous: Synchronous;
  readonly #recordBatches: Compression | undefined;
  #rows: number;
  #bytes: number;
  /** Highest seq ever committed (AUTOINCREMENT never reuses one), for readers keeping a cursor. */
  #maxSeq: number;
  #diskFull = false;
  #lastError: { at: string; message: string } | undefined;
  #closed = false;
  /** Woken after every delete (room) and every commit (work for the shipper). */
  #roomWaiters = new Set<() => void>();
  #workWaiters = new Set<() => void>();
  #groupWaiters = new Map<string, Set<() => void>>();
  readonly #insert: Database.Statement;
  readonly #upsertCheckpoint: Database.Statement;
  readonly #deleteCheckpoint: Database.Statement;
  readonly #getCheckpoint: Database.Statement<[string, string], { value: string }>;
  readonly #listCheckpoints: Database.Statement<[string], { key: string; value: string }>;
  readonly #readFrames: Database.Statement<[number], FrameRow>;
  readonly #deleteRange: Database.Statement<[number, number]>;
  readonly #groupExists: Database.Statement<[string], { one: number }>;
  readonly #oldest: Database.Statement<[], { created_at: number }>;
  readonly #totals: Database.Statement<[], { n: number; b: number }>;
  readonly #recordsThrough: Database.Statement<[number], { n: number }>;
  readonly #commitTx: (frames: readonly PendingFrame[], checkpoints: readonly Checkpoint[]) => number;
  readonly #acknowledgeTx: (frames: readonly OutboxFrame[]) => number;
  /** Records acknowledged by Kafka per dataset and minute. */
  readonly ledger: ShippedLedger;

  constructor(options: OutboxOptions) {
    mkdirSync(path.dirname(options.file), { recursive: true });
    this.#maxBytes = options.maxBytes;
    this.#maxRows = options.maxRows;
    this.#synchronous = options.synchronous;
    this.#recordBatches = options.recordBatches;
    this.#db = new Database(options.file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${options.synchronous}`);
    // Deletes free pages for reuse; the file does not shrink, which is what a steady-state buffer wants.
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS frames (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        grp TEXT,
        records INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        codec INTEGER NOT NULL,
        body BLOB NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS frames_grp ON frames (grp) WHERE grp IS NOT NULL;
      CREATE TABLE IF NOT EXISTS checkpoints (
        source_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (source_id, key)
      ) WITHOUT ROWID;
    `);
    this.ledger = new ShippedLedger(this.#db);
    this.#insert = this.#db.prepare('INSERT INTO frames (grp, records, bytes, codec, body, created_at, ledger) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#upsertCheckpoint = this.#db.prepare(
      'INSERT INTO checkpoints (source_id, key, value) VALUES (?, ?, ?) ON CONFLICT (source_id, key) DO UPDATE SET value = excluded.value',
    );
    this.#deleteCheckpoint = this.#db.prepare('DELETE FROM checkpoints WHERE source_id = ? AND key = ?');
    this.#getCheckpoint = this.#db.prepare('SELECT value FROM checkpoints WHERE source_id = ? AND key = ?');
    this.#listCheckpoints = this.#db.prepare('SELECT key, value FROM checkpoints WHERE source_id = ?');
    this.#readFrames = this.#db.prepare('SELECT seq, grp, records, bytes, codec, body, ledger FROM frames WHERE seq > ? ORDER BY seq');
    this.#deleteRange = this.#db.prepare('DELETE FROM frames WHERE seq >= ? AND seq <= ?');
    this.#groupExists = this.#db.prepare('SELECT 1 AS one FROM frames WHERE grp = ? LIMIT 1');
    this.#oldest = this.#db.prepare('SELECT created_at FROM frames ORDER BY seq LIMIT 1');
    this.#totals = this.#db.prepare('SELECT coalesce(sum(records), 0) AS n, coalesce(sum(bytes), 0) AS b FROM frames');
    this.#recordsThrough = this.#db.prepare('SELECT coalesce(sum(records), 0) AS n FROM frames WHERE seq <= ?');
    this.#commitTx = this.#db.transaction((frames: readonly PendingFrame[], checkpoints: readonly Checkpoint[]) => {
      const now = Date.now();
      let last = 0;
      for (const f of frames) last = Number(this.#insert.run(f.group, f.records, f.payloadBytes, f.codec, f.body, now, f.ledger).lastInsertRowid);
      for (const c of checkpoints) {
        if (c.value === null) this.#deleteCheckpoint.run(c.sourceId, c.key);
        else this.#upsertCheckpoint.run(c.sourceId, c.key, c.value);
      }
      return last;
    });
    // A frame leaves the outbox and enters the ledger in one step: counted exactly once.
    this.#acknowledgeTx = this.#db.transaction((frames: readonly OutboxFrame[]) => {
      const deleted = this.#deleteRange.run(frames[0]!.seq, frames[frames.length - 1]!.seq).changes;
      this.ledger.add(frames.map((f) => f.ledger));
      return deleted;
    });
    this.#migrateMessagesTable();
    const totals = this.#totals.get()!;
    this.#rows = totals.n;
    this.#bytes = totals.b;
    this.#maxSeq = (this.#db.prepare('SELECT coalesce(max(seq), 0) AS m FROM frames').get() as { m: number }).m;
  }

  /**
   * Writes messages and checkpoints atomically. Throws OutboxFullError (nothing written) when the outbox is
   * over its bounds or the disk is full. A batch alone larger than the bounds is accepted into an empty
   * outbox, otherwise it could never be written. `fsync` makes this commit durable against power loss
   * whatever `synchronous` says (for data that cannot be read again, e.g. an acknowledged push).
   */
  commit(messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[] = [], options: { fsync?: boolean } = {}): void {
    if (this.#closed) throw new OutboxFullError('bounds', 'the outbox is closed');
    if (messages.length > 0 && this.#rows > 0 && this.#rows + messages.length > this.#maxRows) throw this.#full();
    // Both bounds are checked before anything is encoded: a source waiting for room retries the same commit
    // after every delete, and would otherwise compress its frames again each time only to be refused.
    const adding = payloadBytesOf(messages);
    if (messages.length > 0 && this.#rows > 0 && this.#bytes + adding > this.#maxBytes) throw this.#full();
    const frames = toFrames(messages, this.#recordBatches);
    let last: number;
    const raise = options.fsync === true && this.#synchronous !== 'FULL';
    try {
      // The pragma applies from the next transaction on: FULL fsyncs the WAL (this commit and all before it).
      if (raise) this.#db.pragma('synchronous = FULL');
      last = this.#commitTx(frames, checkpoints);
    } catch (error) {
      if (isDiskFull(error)) {
        this.#diskFull = true;
        this.#lastError = { at: new Date().toISOString(), message: `disk full: ${(error as Error).message}` };
        throw new OutboxFullError('disk-full', `outbox disk full: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    } finally {
      if (raise) this.#db.pragma(`synchronous = ${this.#synchronous}`);
    }
    if (this.#diskFull) this.#diskFull = false;
    this.#rows += messages.length;
    this.#bytes += adding;
    if (last > this.#maxSeq) this.#maxSeq = last;
    if (messages.length > 0) wake(this.#workWaiters);
  }

  /** Outboxes written before frames kept one row per message: move those into frames, in order, once. */
  #migrateMessagesTable(): void {
    const legacy = this.#db.prepare("SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = 'messages'").get();
    if (legacy === undefined) return;
    const rows = this.#db.prepare('SELECT topic, key, value, headers, grp FROM messages ORDER BY seq').all() as Array<{ topic: string; key: string; value: Buffer; headers: string; grp: string | null }>;
    const messages: OutboxMessage[] = rows.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: JSON.parse(r.headers) as Record<string, string>, ...(r.grp === null ? {} : { group: r.grp }) }));
    this.#db.transaction(() => {
      this.#commitTx(toFrames(messages), []);
      this.#db.exec('DROP TABLE messages');
    })();
  }

  #full(): OutboxFullError {
    return new OutboxFullError('bounds', `outbox full (${this.#rows} rows, ${this.#bytes} bytes; limits ${this.#maxRows} rows, ${this.#maxBytes} bytes)`);
  }

  checkpoint(sourceId: string, key: string): string | undefined {
    return this.#getCheckpoint.get(sourceId, key)?.value;
  }

  checkpoints(sourceId: string): Map<string, string> {
    return new Map(this.#listCheckpoints.all(sourceId).map((r) => [r.key, r.value]));
  }

  /** Whether a commit of this size would be accepted now (bounds only). */
  hasRoom(rows = 1, bytes = 0): boolean {
    if (this.#diskFull) return false;
    return this.#rows === 0 || (this.#rows + rows <= this.#maxRows && this.#bytes + bytes <= this.#maxBytes);
  }

  /**
   * Resolves when a commit may succeed again: at once when the outbox is empty (any batch fits then),
   * otherwise after the shipper's next delete, or after a second at the latest (disk full: space may come
   * back from outside). Always waiting for an event, never spinning, keeps a batch larger than the free room
   * from retrying in a tight loop. Rejects when `signal` aborts.
   */
  async capacity(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#rows === 0 && !this.#diskFull) return;
    await Promise.race([waitFor(this.#roomWaiters, signal), sleep(DISK_FULL_RETRY_MS, undefined, { signal, ref: false })]);
  }

  /** Resolves when there are frames after `afterSeq` (at once if there already are), for the shipper. */
  async work(signal?: AbortSignal, afterSeq = 0): Promise<void> {
    while (!(this.#rows > 0 && this.#maxSeq > afterSeq) && !this.#closed) await waitFor(this.#workWaiters, signal);
  }

  /**
   * Whole frames after `afterSeq` in seq order, until they hold `maxRecords` messages or `maxBytes` payload
   * bytes (always at least one frame when there is one).
   */
  read(afterSeq: number, maxRecords: number, maxBytes: number): OutboxFrame[] {
    const out: OutboxFrame[] = [];
    let records = 0;
    let bytes = 0;
    for (const row of this.#readFrames.iterate(afterSeq)) {
      if (out.length > 0 && (records + row.records > maxRecords || bytes + row.bytes > maxBytes)) break;
      records += row.records;
      bytes += row.bytes;
      out.push({
        seq: row.seq,
        ...(row.grp === null ? {} : { group: row.grp }),
        records: row.records,
        bytes: row.bytes,
        ...(row.codec === CODEC.batches
          ? { messages: [], batches: decodeBatches(row.body) }
          : { messages: decodeFrame(row.body, row.codec, { records: row.records, payloadBytes: row.bytes }) }),
        ...(row.ledger === null ? {} : { ledger: row.ledger }),
      });
      if (records >= maxRecords || bytes >= maxBytes) break;
    }
    return out;
  }

  /** Messages held in frames up to and including `seq` (the shipper's count of a previous run's sends). */
  recordsThrough(seq: number): number {
    return this.#recordsThrough.get(seq)!.n;
  }

  /** Deletes acknowledged frames (a contiguous seq range read by `read`), waking capacity and drained waiters. */
  acknowledge(frames: readonly OutboxFrame[]): void {
    if (frames.length === 0) return;
    const deleted = this.#acknowledgeTx(frames);
    if (deleted !== frames.length) {
      // Only the shipper deletes, and only what it read: a mismatch means a bug, so recount from disk.
      const totals = this.#totals.get()!;
      this.#rows = totals.n;
      this.#bytes = totals.b;
    } else {
      for (const f of frames) {
        this.#rows -= f.records;
        this.#bytes -= f.bytes;
      }
    }
    wake(this.#roomWaiters);
    for (const f of frames) {
      const waiters = f.group === undefined ? undefined : this.#groupWaiters.get(f.group);
      if (waiters && this.#groupExists.get(f.group!) === undefined) {
        this.#groupWaiters.delete(f.group!);
        wake(waiters);
      }
    }
  }

  /** Resolves when no message of `group` is left in the outbox. */
  async drained(group: string, signal?: AbortSignal): Promise<void> {
    if (this.#groupExists.get(group) === undefined) return;
    let waiters = this.#groupWaiters.get(group);
    if (!waiters) {
      waiters = new Set();
      this.#groupWaiters.set(group, waiters);
    }
    await waitFor(waiters, signal);
  }

  stats(): OutboxStats {
    const oldest = this.#rows > 0 ? this.#oldest.get() : undefined;
    return {
      state: this.#diskFull ? 'disk-full' : this.hasRoom() ? 'ok' : 'full',
      rows: this.#rows,
      bytes: this.#bytes,
      oldestAgeSeconds: oldest ? Math.max(0, (Date.now() - oldest.created_at) / 1000) : 0,
      maxRows: this.#maxRows,
      maxBytes: this.#maxBytes,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  /** For tests and fault drills: caps the database file (SQLITE_FULL past it). */
  limitPages(maxPages: number): void {
    this.#db.pragma(`max_page_count = ${Math.floor(maxPages)}`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
    wake(this.#roomWaiters);
    wake(this.#workWaiters);
  }

  get closed(): boolean {
    return this.#closed;
  }
}

/** Cuts a commit into frames: one group each, bounded by FRAME_MAX_RECORDS and FRAME_MAX_BYTES. */
function toFrames(messages: readonly OutboxMessage[], recordBatches?: Compression): PendingFrame[] {
  const frames: PendingFrame[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i <= messages.length; i++) {
    const m = messages[i];
    const cut =
      m === undefined ||
      (i > start && ((m.group ?? null) !== (messages[start]!.group ?? null) || i - start >= FRAME_MAX_RECORDS || bytes >= FRAME_MAX_BYTES));
    if (cut && i > start) {
      const slice = messages.slice(start, i);
      frames.push({ ...encodeFrame(slice, recordBatches), group: slice[0]!.group ?? null, records: slice.length, ledger: frameLedger(slice) });
      start = i;
      bytes = 0;
    }
    if (m !== undefined) bytes += m.value.length; // characters for a string: close enough to cut frames
  }
  return frames;
}

function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' || (error as Error).message?.includes('database or disk is full') === true;
}

function wake(waiters: Set<() => void>): void {
  const all = [...waiters];
  waiters.clear();
  for (const resolve of all) resolve();
}

function waitFor(waiters: Set<() => void>, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const done = (): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = (): void => {
      waiters.delete(done);
      reject(signal!.reason as Error);
    };
    waiters.add(done);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
