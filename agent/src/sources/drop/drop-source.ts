/**
 * The drop folder source. A file's life:
 *
 *   seen ──(complete: stable size+mtime, or renamed in)──▶ hashed ──▶ shipped (rows committed with a
 *   `file:<sha>` progress checkpoint; the last commit swaps it for `drop:<sha>` = committed) ──(every
 *   message of group <sha> acknowledged by Kafka)──▶ moved to done/ (or deleted), `drop:<sha>` = done
 *
 * A crash anywhere resumes without loss or duplication: mid-file from `file:<sha>`; after the last commit,
 * from `drop:<sha>` = committed (wait for the drain, then move). `drop:<sha>` = done is how the same content
 * dropped again is recognised (duplicates: skip). Anything that cannot be read goes to failed/ with a
 * `<name>.error.json` beside it.
 *
 * Only the folder's direct children are watched (depth 0); names like `*.tmp`, `*.part` and `.*` are always
 * ignored, so writers can write under a temp name and rename in.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { watch, type FSWatcher } from 'chokidar';
import picomatch from 'picomatch';
import { BLOB_CHUNK_BYTES, CONTENT_TYPES, KAFKA_HEADERS, type Envelope } from '@sluice/shared/envelope';
import { recordId } from '@sluice/shared/record-id';
import type { DropSourceConfig } from '@sluice/shared/agent-config/drop';
import type { Checkpoint, OutboxMessage, Source, SourceContext, SourceState } from '../source.ts';
import { commitWithBackpressure } from '../commit-with-backpressure.ts';
import { csvRows, DropFileError, jsonRows, ndjsonRows, type Row } from './rows.ts';
import { admitDroppedFile } from './drop-admission.ts';
import { oversizeRecord, RowReport, type RowReportSummary } from './row-report.ts';

/** Rows per outbox transaction: big enough to amortise the fsync, small enough to resume cheaply. */
const ROWS_PER_COMMIT = 1000;
const BYTES_PER_COMMIT = 4 * 1024 * 1024;
/** Blob chunks per transaction (4 MiB). */
const CHUNKS_PER_COMMIT = 8;
const TEMP_NAME = /(^\.|\.tmp$|\.part$)/;

type Format = 'csv' | 'ndjson' | 'json' | 'blob';

const CONTENT_TYPE_BY_EXT: Record<string, string> = {
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gz': 'application/gzip',
  '.zip': 'application/zip',
  '.txt': 'text/plain',
  '.xml': 'application/xml',
};

interface DropRecord extends Partial<RowReportSummary> {
  state: 'committed' | 'done';
  file: string;
  rows: number;
  at: string;
}

export class DropSource implements Source {
  readonly id: string;
  readonly kind = 'drop' as const;
  private readonly config: DropSourceConfig;
  private readonly root: string;
  private readonly doneDir: string;
  private readonly failedDir: string;
  private readonly includes: picomatch.Matcher | undefined;
  private ctx: SourceContext | undefined;
  /** ctx.signal, or stop() called: in-flight waits (stability, drain) end on it and leave files in place. */
  private signal: AbortSignal = AbortSignal.abort();
  private readonly stopController = new AbortController();
  private watcher: FSWatcher | undefined;
  private rootReal = '';
  /** Files seen and not finished yet (waiting, queued, shipping or draining). */
  private readonly inFlight = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private readonly finishing = new Set<Promise<void>>();
  private state: SourceState['state'] = 'stopped';
  private lastError: SourceState['lastError'];
  private current: string | undefined;
  private counts = { done: 0, failed: 0, duplicates: 0, rows: 0, failedRows: 0 };

  constructor(config: DropSourceConfig) {
    this.id = config.id;
    this.config = config;
    this.root = resolve(config.path);
    this.doneDir = resolve(this.root, config.doneDir ?? 'done');
    this.failedDir = resolve(this.root, config.failedDir ?? 'failed');
    this.includes = config.include && config.include.length > 0 ? picomatch([...config.include], { dot: false }) : undefined;
  }

  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    this.signal = AbortSignal.any([ctx.signal, this.stopController.signal]);
    this.state = 'starting';
    await mkdir(this.root, { recursive: true });
    this.rootReal = await realpath(this.root);
    await mkdir(this.doneDir, { recursive: true });
    await mkdir(this.failedDir, { recursive: true });
    const watcher = watch(this.root, { depth: 0, ignoreInitial: false, alwaysStat: false });
    this.watcher = watcher;
    const onPath = (path: string): void => this.consider(path);
    watcher.on('add', onPath).on('change', onPath);
    watcher.on('error', (error) => this.fail(error, { folder: this.root }));
    await new Promise<void>((ready) => watcher.once('ready', () => ready()));
    this.state = 'running';
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.stopController.abort();
    await this.watcher?.close();
    this.watcher = undefined;
    await this.queue.catch(() => undefined);
    await Promise.allSettled([...this.finishing]);
  }

  status(): SourceState {
    return {
      state: this.state,
      ...(this.current === undefined ? {} : { position: this.current }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      details: { folder: this.root, inFlight: this.inFlight.size, ...this.counts },
    };
  }

  private consider(path: string): void {
    const name = relative(this.root, path);
    if (name === '' || name.includes(sep) || TEMP_NAME.test(name)) return;
    if (this.includes && !this.includes(name)) return;
    if (this.inFlight.has(name) || this.state === 'stopped') return;
    this.inFlight.add(name);
    const full = join(this.root, name);
    // Completion waits run side by side; reading and shipping run one file at a time (bounded memory).
    void this.awaitComplete(full)
      .then((ready) => {
        if (!ready) {
          this.inFlight.delete(name);
          return;
        }
        // process() handles its own failures; the catch only keeps one surprise from stalling the queue.
        this.queue = this.queue.then(() => this.process(name, full)).catch((error: unknown) => this.fail(error, { file: name }));
      })
      .catch((error: unknown) => {
        this.inFlight.delete(name);
        if (!this.signal.aborted) this.fail(error, { file: name });
      });
  }

  /** Resolves true once the file is complete, false when it vanished. */
  private async awaitComplete(full: string): Promise<boolean> {
    const stableMs = this.config.completion?.mode === 'rename-in' ? 0 : (this.config.completion?.stableMs ?? 2000);
    const signature = async (): Promise<string | undefined> => {
      try {
        const s = await stat(full);
        return `${s.size}:${s.mtimeMs}`;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    };
    let last = await signature();
    let since = Date.now();
    while (last !== undefined && Date.now() - since < stableMs) {
      await sleep(Math.min(250, stableMs), undefined, { signal: this.signal, ref: false });
      const now = await signature();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
    }
    return last !== undefined;
  }

  private async process(name: string, full: string): Promise<void> {
    const ctx = this.requireCtx();
    if (this.signal.aborted) return;
    this.current = name;
    let handedOff = false;
    try {
      const info = await admitDroppedFile(full, {
        rootReal: this.rootReal,
        maxFileBytes: this.config.maxFileBytes ?? 10 * 1024 * 1024 * 1024,
        allowHardLinks: this.config.allowHardLinks ?? false,
      });
      if (!info) return;
      if (info.size === 0) {
        ctx.log.info({ source: this.id, file: name }, 'empty file dropped: moved to done/ with zero records');
        await this.finish(name, full, undefined);
        return;
      }
      const sha = await sha256File(full);
      const prior = ctx.checkpoint(`drop:${sha}`);
      if (prior !== undefined) {
        const record = JSON.parse(prior) as DropRecord;
        if (record.state === 'committed') {
          // Shipped before a restart but not yet moved: only the drain and the move are left.
          handedOff = true;
          this.drainThenFinish(name, full, sha, undefined);
          return;
        }
        if ((this.config.duplicates ?? 'skip') === 'skip') {
          await this.skipDuplicate(name, full, sha, record);
          return;
        }
      }
      const fileFailure = await this.ship(name, full, sha, info.size);
      handedOff = true;
      this.drainThenFinish(name, full, sha, fileFailure);
    } catch (error) {
      if (this.signal.aborted) return;
      await this.moveToFailed(name, full, error);
    } finally {
      if (!handedOff) this.inFlight.delete(name);
      this.current = undefined;
    }
  }

  /** Ships the file's rows (or blob chunks) from where a previous run stopped; returns a whole-file failure. */
  private async ship(name: string, full: string, sha: string, size: number): Promise<{ reason: string; position?: number } | undefined> {
    const format = this.formatOf(name);
    if (format === 'blob') {
      await this.shipBlob(name, full, sha, size);
      return undefined;
    }
    const ctx = this.requireCtx();
    const progressKey = `file:${sha}`;
    const from = Number(ctx.checkpoint(progressKey) ?? '0');
    const maxRecordBytes = this.config.maxRecordBytes ?? 1024 * 1024;
    const rows: AsyncGenerator<Row> =
      format === 'csv'
        ? csvRows(
            full,
            {
              delimiter: this.config.csv?.delimiter ?? ',',
              quote: this.config.csv?.quote ?? '"',
              header: this.config.csv?.header ?? true,
              ...(this.config.csv?.columns ? { columns: this.config.csv.columns } : {}),
            },
            maxRecordBytes,
          )
        : format === 'ndjson'
          ? ndjsonRows(full, maxRecordBytes)
          : jsonRows(full, size, maxRecordBytes);
    let index = 0;
    let batch: OutboxMessage[] = [];
    let batchBytes = 0;
    let fileFailure: { reason: string; position?: number } | undefined;
    const now = new Date().toISOString();
    const report = new RowReport();
    for await (const row of rows) {
      this.signal.throwIfAborted();
      const rowIndex = index++;
      if (rowIndex < from) {
        if ('parseError' in row) report.add(rowIndex, row.line, row.parseError.reason);
        continue;
      }
      const envelope: Envelope = {
        id: recordId.drop(ctx.agentId, this.id, sha, rowIndex),
        dataset: this.config.dataset,
        agentId: ctx.agentId,
        // `format` tells the consumer a row came from CSV, whose fields are all strings until typed by the schema.
        source: { id: this.id, kind: 'drop', file: name, sha256: sha, row: rowIndex, line: row.line, format },
        eventTime: now,
        ingestTime: now,
        payload: 'payload' in row ? row.payload : null,
        ...('parseError' in row ? { parseError: { ...row.parseError, raw: truncate(row.parseError.raw, maxRecordBytes) } } : {}),
      };
      if ('fileFailure' in row && row.fileFailure) fileFailure = row.fileFailure;
      let message = ctx.toMessage(envelope, sha);
      let shipped = envelope;
      if (message.value.length > maxRecordBytes) {
        shipped = oversizeRecord(envelope, message.value.length, maxRecordBytes);
        message = ctx.toMessage(shipped, sha);
      }
      if (shipped.parseError) report.add(rowIndex, row.line, shipped.parseError.reason);
      batch.push(message);
      batchBytes += message.value.length;
      if (batch.length >= ROWS_PER_COMMIT || batchBytes >= BYTES_PER_COMMIT) {
        await commitWithBackpressure(ctx, batch, [{ sourceId: this.id, key: progressKey, value: String(index) }]);
        this.counts.rows += batch.length;
        batch = [];
        batchBytes = 0;
      }
    }
    await commitWithBackpressure(ctx, batch, this.completed(sha, name, index, report.summary()));
    this.counts.rows += batch.length;
    if (report.failed > 0) {
      this.counts.failedRows += report.failed;
      ctx.log.warn({ source: this.id, file: name, rows: index, failed: report.failed, firstError: report.errors[0] }, 'rows refused: shipped as parseError records to the DLQ');
    }
    return fileFailure;
  }

  /**
   * A blob: chunk messages (raw bytes, key = the blob's record id so they share a partition, in order), then
   * one envelope that points at `blobs/<sha256>`. Read chunk by chunk at its offset: never the whole file.
   */
  private async shipBlob(name: string, full: string, sha: string, size: number): Promise<void> {
    const ctx = this.requireCtx();
    const progressKey = `file:${sha}`;
    const chunks = Math.ceil(size / BLOB_CHUNK_BYTES);
    const contentType = this.config.blob?.contentType ?? CONTENT_TYPE_BY_EXT[extname(name).toLowerCase()] ?? 'application/octet-stream';
    const now = new Date().toISOString();
    const envelope: Envelope = {
      id: recordId.drop(ctx.agentId, this.id, sha, 0),
      dataset: this.config.dataset,
      agentId: ctx.agentId,
      source: { id: this.id, kind: 'drop', file: name, sha256: sha, row: 0 },
      eventTime: now,
      ingestTime: now,
      payload: { fileName: name, size },
      blob: { key: `blobs/${sha}`, size, sha256: sha, contentType, chunks, fileName: name },
    };
    // Keyed: the chunks and the envelope of one blob share a key and must share a partition.
    const head: OutboxMessage = { ...ctx.toMessage(envelope, sha), keyed: true };
    const from = Number(ctx.checkpoint(progressKey) ?? '0');
    // Hash what is actually shipped: a file changed after it was hashed must not go out under the old sha.
    const hash = from === 0 ? createHash('sha256') : undefined;
    const handle = await open(full, 'r');
    try {
      let batch: OutboxMessage[] = [];
      for (let i = from; i < chunks; i++) {
        this.signal.throwIfAborted();
        const length = Math.min(BLOB_CHUNK_BYTES, size - i * BLOB_CHUNK_BYTES);
        const value = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(value, 0, length, i * BLOB_CHUNK_BYTES);
        if (bytesRead !== length) throw new DropFileError(`file shrank while being read (chunk ${i})`);
        hash?.update(value);
        batch.push({
          topic: head.topic,
          key: head.key,
          value,
          headers: {
            ...head.headers,
            [KAFKA_HEADERS.contentType]: CONTENT_TYPES.blobChunk,
            [KAFKA_HEADERS.blobSha256]: sha,
            [KAFKA_HEADERS.blobChunk]: String(i),
            [KAFKA_HEADERS.blobChunks]: String(chunks),
          },
          group: sha,
          keyed: true,
        });
        if (batch.length >= CHUNKS_PER_COMMIT && i + 1 < chunks) {
          await commitWithBackpressure(ctx, batch, [{ sourceId: this.id, key: progressKey, value: String(i + 1) }]);
          batch = [];
        }
      }
      if (hash !== undefined && hash.digest('hex') !== sha) {
        throw new DropFileError('file changed while being read (sha256 differs from the one computed before)');
      }
      batch.push(head);
      await commitWithBackpressure(ctx, batch, this.completed(sha, name, 1));
      this.counts.rows += 1;
    } finally {
      await handle.close();
    }
  }

  private completed(sha: string, name: string, rows: number, report?: RowReportSummary): Checkpoint[] {
    const record: DropRecord = { state: 'committed', file: name, rows, ...(report && report.failed > 0 ? report : {}), at: new Date().toISOString() };
    return [
      { sourceId: this.id, key: `file:${sha}`, value: null },
      { sourceId: this.id, key: `drop:${sha}`, value: JSON.stringify(record) },
    ];
  }

  /** Waits (off the read queue) for Kafka to acknowledge the file's messages, then moves it away. */
  private drainThenFinish(name: string, full: string, sha: string, fileFailure: { reason: string; position?: number } | undefined): void {
    const ctx = this.requireCtx();
    const work = abortable(ctx.drained(sha), this.signal)
      .then(async () => {
        if (fileFailure) await this.moveToFailed(name, full, new DropFileError(fileFailure.reason, fileFailure));
        else await this.finish(name, full, sha);
      })
      .catch(async (error: unknown) => {
        if (!this.signal.aborted) await this.moveToFailed(name, full, error);
      })
      .finally(() => {
        this.inFlight.delete(name);
        this.finishing.delete(work);
      });
    this.finishing.add(work);
  }

  private async finish(name: string, full: string, sha: string | undefined): Promise<void> {
    const ctx = this.requireCtx();
    const target = (this.config.after ?? 'move') === 'delete' ? undefined : await freeName(this.doneDir, name);
    if (target === undefined) await rm(full, { force: true });
    else await rename(full, target);
    if (sha !== undefined) {
      const prior = ctx.checkpoint(`drop:${sha}`);
      const record = prior === undefined ? undefined : (JSON.parse(prior) as DropRecord);
      if (target !== undefined && record?.failed) {
        const report = { file: name, sha256: sha, rows: record.rows, failed: record.failed, errors: record.errors ?? [], at: new Date().toISOString() };
        await writeFile(`${target}.report.json`, JSON.stringify(report, null, 2) + '\n');
      }
      const done: DropRecord = { state: 'done', file: name, rows: record?.rows ?? 0, at: new Date().toISOString() };
      await commitWithBackpressure(ctx, [], [{ sourceId: this.id, key: `drop:${sha}`, value: JSON.stringify(done) }]);
    }
    this.counts.done++;
  }

  private async skipDuplicate(name: string, full: string, sha: string, first: DropRecord): Promise<void> {
    const ctx = this.requireCtx();
    ctx.log.info({ source: this.id, file: name, sha256: sha, firstSeenAs: first.file }, 'same content ingested before: skipped');
    const target = await freeName(this.doneDir, name);
    await rename(full, target);
    const note = { file: name, sha256: sha, reason: 'duplicate: the same content was ingested before', first, at: new Date().toISOString() };
    await writeFile(`${target}.duplicate.json`, JSON.stringify(note, null, 2) + '\n');
    this.counts.duplicates++;
  }

  private async moveToFailed(name: string, full: string, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const details = error instanceof DropFileError ? error.details : code === undefined ? {} : { code };
    this.fail(error, { file: name });
    this.counts.failed++;
    try {
      const target = await freeName(this.failedDir, name);
      await rename(full, target);
      await writeFile(`${target}.error.json`, JSON.stringify({ file: name, reason, ...details, at: new Date().toISOString() }, null, 2) + '\n');
    } catch (moveError) {
      // Vanished (ENOENT) or unmovable: nothing left to keep here; the error above is in status and metrics.
      if ((moveError as NodeJS.ErrnoException).code !== 'ENOENT') this.fail(moveError, { file: name, action: 'move to failed/' });
    }
  }

  private formatOf(name: string): Format {
    const format = this.config.format ?? 'auto';
    if (format !== 'auto') return format;
    const ext = extname(name).toLowerCase();
    if (ext === '.csv' || ext === '.tsv') return 'csv';
    if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
    if (ext === '.json') return 'json';
    return 'blob';
  }

  private fail(error: unknown, context: Record<string, unknown>): void {
    this.lastError = { at: new Date().toISOString(), message: error instanceof Error ? error.message : String(error) };
    this.ctx?.reportError(error, { source: this.id, ...context });
  }

  private requireCtx(): SourceContext {
    if (!this.ctx) throw new Error(`drop source ${this.id} used before start()`);
    return this.ctx;
  }
}

function truncate(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return Buffer.from(text).subarray(0, maxBytes).toString('utf8');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** `dir/name`, or `dir/name.<n>` when a file of that name is already there. */
async function freeName(dir: string, name: string): Promise<string> {
  const base = join(dir, basename(name));
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? base : `${base}.${n}`;
    try {
      await lstat(candidate);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return candidate;
      throw error;
    }
  }
}

function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolvePromise, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise();
      },
      (error: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
