/**
 * Ships one dropped file into the outbox, resuming from its `file:<sha>` progress checkpoint: rows (CSV,
 * NDJSON, JSON) in batches, or a blob in chunks followed by the envelope that points at it. The last commit
 * swaps the progress checkpoint for `drop:<sha>` = committed (drop-source.ts has the whole life of a file).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { BLOB_CHUNK_BYTES, CONTENT_TYPES, KAFKA_HEADERS, type Envelope } from '@sluice/shared/envelope';
import { truncateRaw } from '@sluice/shared/json-batch';
import { recordId } from '@sluice/shared/record-id';
import type { DropSourceConfig } from '@sluice/shared/agent-config/drop';
import type { Checkpoint, OutboxMessage, SourceContext } from '../source.ts';
import { csvRows, DropFileError, jsonRows, ndjsonRows, type Row } from './rows.ts';
import { oversizeRecord, RowReport, type RowReportSummary } from './row-report.ts';

/** Rows per outbox transaction: big enough to amortise the fsync, small enough to resume cheaply. */
const ROWS_PER_COMMIT = 1000;
const BYTES_PER_COMMIT = 4 * 1024 * 1024;
/** Blob chunks per transaction (4 MiB). */
const CHUNKS_PER_COMMIT = 8;

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

/** What `drop:<sha>` holds. */
export interface DropRecord extends Partial<RowReportSummary> {
  state: 'committed' | 'done';
  file: string;
  rows: number;
  at: string;
}

/** A file to ship: its name in the folder, path, content hash and size. */
export interface DroppedFile {
  name: string;
  full: string;
  sha: string;
  size: number;
}

/** Counters the source shows in /status, updated as batches commit. */
export interface ShipCounts {
  rows: number;
  failedRows: number;
}

export class DropShipping {
  readonly #sourceId: string;
  readonly #config: DropSourceConfig;
  readonly #ctx: SourceContext;
  readonly #signal: AbortSignal;
  readonly #counts: ShipCounts;

  constructor(options: { sourceId: string; config: DropSourceConfig; ctx: SourceContext; signal: AbortSignal; counts: ShipCounts }) {
    this.#sourceId = options.sourceId;
    this.#config = options.config;
    this.#ctx = options.ctx;
    this.#signal = options.signal;
    this.#counts = options.counts;
  }

  /** Ships the file's rows (or blob chunks) from where a previous run stopped; returns a whole-file failure. */
  async ship(file: DroppedFile): Promise<{ reason: string; position?: number } | undefined> {
    const format = this.#formatOf(file.name);
    if (format === 'blob') {
      await this.#shipBlob(file);
      return undefined;
    }
    return this.#shipRows(file, format);
  }

  async #shipRows({ name, full, sha, size }: DroppedFile, format: Exclude<Format, 'blob'>): Promise<{ reason: string; position?: number } | undefined> {
    const ctx = this.#ctx;
    const progressKey = `file:${sha}`;
    const from = Number(ctx.checkpoint(progressKey) ?? '0');
    const maxRecordBytes = this.#config.maxRecordBytes;
    const { csv } = this.#config;
    const rows: AsyncGenerator<Row> =
      format === 'csv'
        ? csvRows(full, { delimiter: csv.delimiter, quote: csv.quote, header: csv.header, ...(csv.columns ? { columns: csv.columns } : {}) }, maxRecordBytes)
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
      this.#signal.throwIfAborted();
      const rowIndex = index++;
      if (rowIndex < from) {
        if ('parseError' in row) report.add(rowIndex, row.line, row.parseError.reason);
        continue;
      }
      const envelope: Envelope = {
        id: recordId.drop(ctx.agentId, this.#sourceId, sha, rowIndex),
        dataset: this.#config.dataset,
        agentId: ctx.agentId,
        // `format` tells the consumer a row came from CSV, whose fields are all strings until typed by the schema.
        source: { id: this.#sourceId, kind: 'drop', file: name, sha256: sha, row: rowIndex, line: row.line, format },
        eventTime: now,
        ingestTime: now,
        payload: 'payload' in row ? row.payload : null,
        ...('parseError' in row ? { parseError: { ...row.parseError, raw: truncateRaw(row.parseError.raw, maxRecordBytes) } } : {}),
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
        await ctx.commit(batch, [{ sourceId: this.#sourceId, key: progressKey, value: String(index) }]);
        this.#counts.rows += batch.length;
        batch = [];
        batchBytes = 0;
      }
    }
    await ctx.commit(batch, this.#completed(sha, name, index, report.summary()));
    this.#counts.rows += batch.length;
    if (report.failed > 0) {
      this.#counts.failedRows += report.failed;
      ctx.log.warn({ source: this.#sourceId, file: name, rows: index, failed: report.failed, firstError: report.errors[0] }, 'rows refused: shipped as parseError records to the DLQ');
    }
    return fileFailure;
  }

  /**
   * A blob: chunk messages (raw bytes, key = the blob's record id so they share a partition, in order), then
   * one envelope that points at `blobs/<sha256>`. Read chunk by chunk at its offset: never the whole file.
   */
  async #shipBlob({ name, full, sha, size }: DroppedFile): Promise<void> {
    const ctx = this.#ctx;
    const progressKey = `file:${sha}`;
    const chunks = Math.ceil(size / BLOB_CHUNK_BYTES);
    const contentType = this.#config.blob?.contentType ?? CONTENT_TYPE_BY_EXT[extname(name).toLowerCase()] ?? 'application/octet-stream';
    const now = new Date().toISOString();
    const envelope: Envelope = {
      id: recordId.drop(ctx.agentId, this.#sourceId, sha, 0),
      dataset: this.#config.dataset,
      agentId: ctx.agentId,
      source: { id: this.#sourceId, kind: 'drop', file: name, sha256: sha, row: 0 },
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
        this.#signal.throwIfAborted();
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
          await ctx.commit(batch, [{ sourceId: this.#sourceId, key: progressKey, value: String(i + 1) }]);
          batch = [];
        }
      }
      if (hash !== undefined && hash.digest('hex') !== sha) {
        throw new DropFileError('file changed while being read (sha256 differs from the one computed before)');
      }
      batch.push(head);
      await ctx.commit(batch, this.#completed(sha, name, 1));
      this.#counts.rows += 1;
    } finally {
      await handle.close();
    }
  }

  #completed(sha: string, name: string, rows: number, report?: RowReportSummary): Checkpoint[] {
    const record: DropRecord = { state: 'committed', file: name, rows, ...(report && report.failed > 0 ? report : {}), at: new Date().toISOString() };
    return [
      { sourceId: this.#sourceId, key: `file:${sha}`, value: null },
      { sourceId: this.#sourceId, key: `drop:${sha}`, value: JSON.stringify(record) },
    ];
  }

  #formatOf(name: string): Format {
    const format = this.#config.format;
    if (format !== 'auto') return format;
    const ext = extname(name).toLowerCase();
    if (ext === '.csv' || ext === '.tsv') return 'csv';
    if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
    if (ext === '.json') return 'json';
    return 'blob';
  }
}
