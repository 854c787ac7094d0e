/**
 * The durable outbox (DESIGN.md "Agent"): SQLite in WAL mode holding the messages not yet acknowledged by
 * Kafka and each source's read position. A source commits its records and its new position in ONE
 * transaction, so after a crash the position and the records agree: nothing lost, nothing duplicated between
 * source and outbox. The shipper reads in `seq` order and deletes only what the broker acknowledged.
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

export type Synchronous = 'FULL' | 'NORMAL' | 'OFF';

export interface OutboxOptions {
  /** The SQLite file; its folder is created. */
  file: string;
  maxBytes: number;
  maxRows: number;
  synchronous: Synchronous;
}

/** The outbox cannot take the commit now (over its bounds, or the disk is full); nothing was written. */
export class OutboxFullError extends SluiceError {
  readonly reason: 'bounds' | 'disk-full';
  constructor(reason: 'bounds' | 'disk-full', message: string, options?: { cause?: unknown }) {
    super('UnavailableError', message, { retryAfterSeconds: 1 }, options);
    this.reason = reason;
  }
}

export interface StoredMessage extends OutboxMessage {
  seq: number;
  bytes: number;
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

interface MessageRow {
  seq: number;
  topic: string;
  key: string;
  value: Buffer;
  headers: string;
  grp: string | null;
  bytes: number;
}

const DISK_FULL_RETRY_MS = 1000;
const INSERT_GROUP = 64;

export class Outbox {
  readonly #db: Database.Database;
  readonly #maxBytes: number;
  readonly #maxRows: number;
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
  /** One statement for INSERT_GROUP rows: a third of the per-row cost of single inserts (profiled). */
  readonly #insertGroup: Database.Statement;
  readonly #upsertCheckpoint: Database.Statement;
  readonly #deleteCheckpoint: Database.Statement;
  readonly #getCheckpoint: Database.Statement<[string, string], { value: string }>;
  readonly #listCheckpoints: Database.Statement<[string], { key: string; value: string }>;
  readonly #readBatch: Database.Statement<[number, number], MessageRow>;
  readonly #deleteRange: Database.Statement<[number, number]>;
  readonly #groupExists: Database.Statement<[string], { one: number }>;
  readonly #oldest: Database.Statement<[], { created_at: number }>;
  readonly #commitTx: (messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[], sizes: number[]) => number;

  constructor(options: OutboxOptions) {
    mkdirSync(path.dirname(options.file), { recursive: true });
    this.#maxBytes = options.maxBytes;
    this.#maxRows = options.maxRows;
    this.#db = new Database(options.file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${options.synchronous}`);
    // Deletes free pages for reuse; the file does not shrink, which is what a steady-state buffer wants.
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        headers TEXT NOT NULL,
        grp TEXT,
        bytes INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS messages_grp ON messages (grp) WHERE grp IS NOT NULL;
      CREATE TABLE IF NOT EXISTS checkpoints (
        source_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (source_id, key)
      ) WITHOUT ROWID;
    `);
    this.#insert = this.#db.prepare('INSERT INTO messages (topic, key, value, headers, grp, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#insertGroup = this.#db.prepare(
      `INSERT INTO messages (topic, key, value, headers, grp, bytes, created_at) VALUES ${Array.from({ length: INSERT_GROUP }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    );
    this.#upsertCheckpoint = this.#db.prepare(
      'INSERT INTO checkpoints (source_id, key, value) VALUES (?, ?, ?) ON CONFLICT (source_id, key) DO UPDATE SET value = excluded.value',
    );
    this.#deleteCheckpoint = this.#db.prepare('DELETE FROM checkpoints WHERE source_id = ? AND key = ?');
    this.#getCheckpoint = this.#db.prepare('SELECT value FROM checkpoints WHERE source_id = ? AND key = ?');
    this.#listCheckpoints = this.#db.prepare('SELECT key, value FROM checkpoints WHERE source_id = ?');
    this.#readBatch = this.#db.prepare('SELECT seq, topic, key, value, headers, grp, bytes FROM messages WHERE seq > ? ORDER BY seq LIMIT ?');
    this.#deleteRange = this.#db.prepare('DELETE FROM messages WHERE seq >= ? AND seq <= ?');
    this.#groupExists = this.#db.prepare('SELECT 1 AS one FROM messages WHERE grp = ? LIMIT 1');
    this.#oldest = this.#db.prepare('SELECT created_at FROM messages ORDER BY seq LIMIT 1');
    const totals = this.#db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM messages').get() as { n: number; b: number };
    this.#rows = totals.n;
    this.#bytes = totals.b;
    this.#maxSeq = (this.#db.prepare("SELECT coalesce(max(seq), 0) AS m FROM messages").get() as { m: number }).m;
    this.#commitTx = this.#db.transaction((messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[], sizes: number[]) => {
      const now = Date.now();
      let last = 0;
      let i = 0;
      const params: unknown[] = [];
      for (; i + INSERT_GROUP <= messages.length; i += INSERT_GROUP) {
        params.length = 0;
        for (let j = i; j < i + INSERT_GROUP; j++) {
          const m = messages[j]!;
          params.push(m.topic, m.key, m.value, headersJson(m.headers), m.group ?? null, sizes[j], now);
        }
        last = Number(this.#insertGroup.run(params).lastInsertRowid);
      }
      for (; i < messages.length; i++) {
        const m = messages[i]!;
        last = Number(this.#insert.run(m.topic, m.key, m.value, headersJson(m.headers), m.group ?? null, sizes[i], now).lastInsertRowid);
      }
      for (const c of checkpoints) {
        if (c.value === null) this.#deleteCheckpoint.run(c.sourceId, c.key);
        else this.#upsertCheckpoint.run(c.sourceId, c.key, c.value);
      }
      return last;
    });
  }

  /**
   * Writes messages and checkpoints atomically. Throws OutboxFullError (nothing written) when the outbox is
   * over its bounds or the disk is full. A batch alone larger than the bounds is accepted into an empty
   * outbox, otherwise it could never be written.
   */
  commit(messages: readonly OutboxMessage[], checkpoints: readonly Checkpoint[] = []): void {
    if (this.#closed) throw new OutboxFullError('bounds', 'the outbox is closed');
    const sizes = messages.map(messageBytes);
    const adding = sizes.reduce((a, b) => a + b, 0);
    if (messages.length > 0 && this.#rows > 0 && (this.#rows + messages.length > this.#maxRows || this.#bytes + adding > this.#maxBytes)) {
      throw new OutboxFullError('bounds', `outbox full (${this.#rows} rows, ${this.#bytes} bytes; limits ${this.#maxRows} rows, ${this.#maxBytes} bytes)`);
    }
    let last: number;
    try {
      last = this.#commitTx(messages, checkpoints, sizes);
    } catch (error) {
      if (isDiskFull(error)) {
        this.#diskFull = true;
        this.#lastError = { at: new Date().toISOString(), message: `disk full: ${(error as Error).message}` };
        throw new OutboxFullError('disk-full', `outbox disk full: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
    if (this.#diskFull) this.#diskFull = false;
    this.#rows += messages.length;
    this.#bytes += adding;
    if (last > this.#maxSeq) this.#maxSeq = last;
    if (messages.length > 0) wake(this.#workWaiters);
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

  /** Resolves when there are rows after `afterSeq` (at once if there already are), for the shipper. */
  async work(signal?: AbortSignal, afterSeq = 0): Promise<void> {
    while (!(this.#rows > 0 && this.#maxSeq > afterSeq) && !this.#closed) await waitFor(this.#workWaiters, signal);
  }

  /** Messages after `afterSeq` in seq order, at most `limit` rows and (beyond the first) `maxBytes`. */
  read(afterSeq: number, limit: number, maxBytes: number): StoredMessage[] {
    const rows = this.#readBatch.all(afterSeq, limit);
    const out: StoredMessage[] = [];
    let bytes = 0;
    for (const row of rows) {
      if (out.length > 0 && bytes + row.bytes > maxBytes) break;
      bytes += row.bytes;
      out.push({
        seq: row.seq,
        topic: row.topic,
        key: row.key,
        value: row.value,
        headers: parseHeaders(row.headers),
        ...(row.grp === null ? {} : { group: row.grp }),
        bytes: row.bytes,
      });
    }
    return out;
  }

  /** Deletes acknowledged messages (a contiguous seq range read by `read`), waking capacity and drained waiters. */
  acknowledge(messages: readonly StoredMessage[]): void {
    if (messages.length === 0) return;
    const first = messages[0]!.seq;
    const last = messages[messages.length - 1]!.seq;
    const deleted = this.#deleteRange.run(first, last).changes;
    if (deleted !== messages.length) {
      // Only the shipper deletes, and only what it read: a mismatch means a bug, so recount from disk.
      const totals = this.#db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM messages').get() as { n: number; b: number };
      this.#rows = totals.n;
      this.#bytes = totals.b;
    } else {
      this.#rows -= deleted;
      this.#bytes -= messages.reduce((a, m) => a + m.bytes, 0);
    }
    wake(this.#roomWaiters);
    const groups = new Set(messages.flatMap((m) => (m.group === undefined ? [] : [m.group])));
    for (const group of groups) {
      const waiters = this.#groupWaiters.get(group);
      if (waiters && this.#groupExists.get(group) === undefined) {
        this.#groupWaiters.delete(group);
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

/** Sources reuse one headers object per dataset, so its JSON is computed once, not per row. */
const headersCache = new WeakMap<Record<string, string>, string>();
function headersJson(headers: Record<string, string>): string {
  let json = headersCache.get(headers);
  if (json === undefined) {
    json = JSON.stringify(headers);
    headersCache.set(headers, json);
  }
  return json;
}

/** Rows of one source share a handful of distinct header strings: parse each once (read-only objects). */
const parsedHeaders = new Map<string, Record<string, string>>();
function parseHeaders(json: string): Record<string, string> {
  let headers = parsedHeaders.get(json);
  if (headers === undefined) {
    headers = Object.freeze(JSON.parse(json) as Record<string, string>);
    if (parsedHeaders.size > 10_000) parsedHeaders.clear();
    parsedHeaders.set(json, headers);
  }
  return headers;
}

function messageBytes(m: OutboxMessage): number {
  return m.value.length + m.key.length + m.topic.length + headersJson(m.headers).length;
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
