/**
 * Reassembles blob files (whole files shipped claim-check style) from their Kafka chunk messages.
 *
 * The agent splits a file into chunks of BLOB_CHUNK_BYTES, each one Kafka message (content type
 * `application/vnd.sluice.blob-chunk`, headers `blob-sha256`, `blob-chunk`, `blob-chunks`, raw bytes as the
 * value), followed in the same partition by the envelope whose `blob` field describes the file. The chunks of
 * one blob may span several consumer batches and consumer restarts, so nothing is held in memory between
 * calls: every chunk is stored as its own object and the blob is built from those objects.
 *
 * How the pipeline uses it (both calls are idempotent, so a replay after a crash is harmless):
 *   - for each chunk message, in offset order: `await writeChunk({ sha256, index, count, bytes })`
 *       → stores `_chunks/<sha256>/<index, 6 digits>`.
 *   - for the closing envelope, after the chunk writes before it have resolved: `await complete(envelope)`
 *       → builds `blobs/<sha256>` with a multipart upload, checks size and sha256 on the way, then deletes the
 *         chunk objects. The blob becomes visible only when the upload completes, i.e. only once verified.
 *         A mismatch or a missing chunk returns `failed` (for the DLQ) and keeps the chunks; an existing
 *         verified blob returns `ok` at once (and clears leftover chunks).
 * Offsets may be committed after each batch as usual: the state lives in the bucket.
 *
 * Why not server-side compose (UploadPartCopy): every part but the last must be ≥ 5 MiB and chunks are
 * 512 KiB, so chunks are read back and re-uploaded in parts of `partBytes` (default 8 MiB) instead.
 */
import { createHash } from 'node:crypto';
import type { Client } from 'minio';
import type { Envelope } from '@sluice/shared/envelope';
import { BLOB_CHUNK_BYTES } from '@sluice/shared/envelope';
import { failed, ok, type Outcome } from '@sluice/shared/outcome';
import type { Logger } from '@sluice/shared/node/logger';
import { s3ErrorCode, s3Outcome } from './s3-errors.ts';

export interface BlobChunk {
  sha256: string;
  /** 0-based position of this chunk. */
  index: number;
  /** How many chunks the blob has. */
  count: number;
  bytes: Uint8Array;
}

export interface BlobAssemblerOptions {
  client: Client;
  bucket: string;
  ensureBucket: () => Promise<void>;
  logger: Logger;
  chunkPrefix?: string;
  blobPrefix?: string;
  /** Multipart part size; S3 needs ≥ 5 MiB for every part but the last. Default 8 MiB. */
  partBytes?: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const MIN_PART_BYTES = 5 * 1024 * 1024;

export class BlobAssembler {
  readonly #client: Client;
  readonly #bucket: string;
  readonly #ensureBucket: () => Promise<void>;
  readonly #logger: Logger;
  readonly #chunkPrefix: string;
  readonly #blobPrefix: string;
  readonly #partBytes: number;

  constructor(options: BlobAssemblerOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#ensureBucket = options.ensureBucket;
    this.#logger = options.logger;
    this.#chunkPrefix = options.chunkPrefix ?? '_chunks';
    this.#blobPrefix = options.blobPrefix ?? 'blobs';
    this.#partBytes = Math.max(MIN_PART_BYTES, options.partBytes ?? 8 * 1024 * 1024);
  }

  chunkKey(sha256: string, index: number): string {
    return `${this.#chunkPrefix}/${sha256}/${String(index).padStart(6, '0')}`;
  }

  blobKey(sha256: string): string {
    return `${this.#blobPrefix}/${sha256}`;
  }

  async writeChunk(chunk: BlobChunk): Promise<Outcome> {
    if (!SHA256_HEX.test(chunk.sha256)) return failed(`blob chunk: sha256 ${JSON.stringify(chunk.sha256)} is not 64 lowercase hex digits`);
    if (!Number.isInteger(chunk.index) || !Number.isInteger(chunk.count) || chunk.index < 0 || chunk.index >= chunk.count) {
      return failed(`blob ${chunk.sha256}: chunk index ${chunk.index} is outside 0..${chunk.count - 1}`);
    }
    try {
      await this.#ensureBucket();
      const body = Buffer.from(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength);
      await this.#client.putObject(this.#bucket, this.chunkKey(chunk.sha256, chunk.index), body, body.length, {
        'Content-Type': 'application/octet-stream',
        'x-amz-meta-sluice-chunks': String(chunk.count),
      });
      return ok;
    } catch (error) {
      return s3Outcome(error, `storing chunk ${chunk.index}/${chunk.count} of blob ${chunk.sha256}`, this.#logger);
    }
  }

  async complete(envelope: Pick<Envelope, 'id' | 'blob'>): Promise<Outcome> {
    const blob = envelope.blob;
    if (blob === undefined) return failed(`record ${envelope.id} has no blob to assemble`);
    if (!SHA256_HEX.test(blob.sha256)) return failed(`blob sha256 ${JSON.stringify(blob.sha256)} is not 64 lowercase hex digits`);
    const count = blob.chunks ?? Math.ceil(blob.size / BLOB_CHUNK_BYTES);
    const key = this.blobKey(blob.sha256);
    try {
      await this.#ensureBucket();
      if (await this.#exists(key)) {
        await this.#removeChunks(blob.sha256);
        return ok;
      }
      const verdict = await this.#assemble(key, blob, count);
      if (verdict.kind !== 'ok') return verdict;
      await this.#removeChunks(blob.sha256);
      this.#logger.info({ blob: key, size: blob.size, chunks: count }, 'blob assembled');
      return ok;
    } catch (error) {
      return s3Outcome(error, `assembling blob ${blob.sha256}`, this.#logger);
    }
  }

  /** Multipart upload of the chunks in order, hashing as it goes; completed only when size and sha256 match. */
  async #assemble(key: string, blob: NonNullable<Envelope['blob']>, count: number): Promise<Outcome> {
    const headers = {
      'Content-Type': blob.contentType || 'application/octet-stream',
      'x-amz-meta-sluice-sha256': blob.sha256,
      ...(blob.fileName ? { 'x-amz-meta-sluice-file-name': encodeURIComponent(blob.fileName) } : {}),
    };
    if (count === 0) {
      const empty = createHash('sha256').digest('hex');
      if (blob.size !== 0 || empty !== blob.sha256) return failed(`blob ${blob.sha256}: no chunks, but size ${blob.size} and sha256 say otherwise`);
      await this.#client.putObject(this.#bucket, key, Buffer.alloc(0), 0, headers);
      return ok;
    }
    // S3 allows at most 10 000 parts: very large blobs get larger parts.
    const partBytes = Math.max(this.#partBytes, Math.ceil(blob.size / 9_000));
    const uploadId = await this.#client.initiateNewMultipartUpload(this.#bucket, key, headers);
    let completed = false;
    try {
      const hash = createHash('sha256');
      const etags: Array<{ part: number; etag: string }> = [];
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let size = 0;
      const uploadPending = async (): Promise<void> => {
        const part = etags.length + 1;
        const uploaded = await this.#client.uploadPart({ bucketName: this.#bucket, objectName: key, uploadID: uploadId, partNumber: part, headers: {} }, Buffer.concat(pending, pendingBytes));
        etags.push({ part, etag: uploaded.etag });
        pending = [];
        pendingBytes = 0;
      };
      for (let index = 0; index < count; index++) {
        const bytes = await this.#readChunk(blob.sha256, index);
        if (bytes === undefined) return failed(`blob ${blob.sha256}: chunk ${index} of ${count} is missing; chunks kept, blob not written`);
        hash.update(bytes);
        size += bytes.length;
        pending.push(bytes);
        pendingBytes += bytes.length;
        if (pendingBytes >= partBytes) await uploadPending();
      }
      const digest = hash.digest('hex');
      if (digest !== blob.sha256 || size !== blob.size) {
        this.#logger.warn({ blob: blob.sha256, digest, size, expectedSize: blob.size }, 'blob does not match its checksum');
        return failed(`blob ${blob.sha256}: reassembled ${size} bytes with sha256 ${digest}, expected ${blob.size} bytes; chunks kept, blob not written`);
      }
      if (pendingBytes > 0) await uploadPending();
      await this.#client.completeMultipartUpload(this.#bucket, key, uploadId, etags);
      completed = true;
      return ok;
    } finally {
      if (!completed) await this.#client.abortMultipartUpload(this.#bucket, key, uploadId).catch(() => undefined);
    }
  }

  async #readChunk(sha256: string, index: number): Promise<Buffer | undefined> {
    try {
      const stream = await this.#client.getObject(this.#bucket, this.chunkKey(sha256, index));
      const parts: Buffer[] = [];
      for await (const part of stream) parts.push(part as Buffer);
      return Buffer.concat(parts);
    } catch (error) {
      if (s3ErrorCode(error) === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async #exists(key: string): Promise<boolean> {
    try {
      await this.#client.statObject(this.#bucket, key);
      return true;
    } catch (error) {
      const code = s3ErrorCode(error);
      if (code === 'NotFound' || code === 'NoSuchKey') return false;
      throw error;
    }
  }

  async #removeChunks(sha256: string): Promise<void> {
    const names: string[] = [];
    for await (const item of this.#client.listObjectsV2(this.#bucket, `${this.#chunkPrefix}/${sha256}/`, true) as AsyncIterable<{ name?: string }>) {
      if (item.name) names.push(item.name);
    }
    for (let i = 0; i < names.length; i += 1000) await this.#client.removeObjects(this.#bucket, names.slice(i, i + 1000));
  }
}
