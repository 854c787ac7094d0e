/**
 * Parquet compaction ("optimize partitions", docs/lake.md). Turns a partition's gzip NDJSON segments into
 * zstd Parquet files of about a target size with typed columns from the dataset's JSON schema, written by
 * DuckDB (@duckdb/node-api, no extensions).
 *
 * Atomic swap: a partition's live files are named by its manifest `<partition>/_manifest.json`, written last:
 * the Parquet files it lists, plus every NDJSON segment it does not list in `replaced` with the same ETag.
 * Readers follow the manifest, so before it is written they see the old segments only, after it the new
 * files only. Output names are derived from the inputs (a hash of their keys and ETags), so a run killed at
 * any point and run again writes the same names, and every record id is kept once (the first copy in key
 * order). Segments written while the partition was thought closed (a new key, or a replaced key with another
 * ETag) are simply live next to the Parquet files and are taken in by the next run.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Client } from 'minio';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { objectPrefix } from '../../sinks/object-store/object-keys.ts';
import { quoteIdent, quoteLiteral } from '../../sinks/postgres/columns.ts';
import type { PartitionStats } from '../partitions/partition-stats.ts';
import { parquetColumns, rowOf, type ParquetColumn } from './columns.ts';

export interface Manifest {
  version: 1;
  dataset: string;
  partition: string;
  generation: string;
  files: Array<{ key: string; records: number; bytes: number; minEventTime?: string | undefined; maxEventTime?: string | undefined }>;
  replaced: Array<{ key: string; etag: string }>;
  records: number;
  writtenAt: string;
}

export interface CompactionOptions {
  client: Client;
  bucket: string;
  dataset: DatasetVersion;
  /** Path below the dataset prefix, e.g. `dt=2026-03-01/hour=10`. */
  partition: string;
  stats?: PartitionStats;
  /** About this many bytes of Parquet per file (estimated from the gzip input). Default 128 MiB. */
  targetFileBytes?: number;
  /** Rows per row group. Default 122,880 (DuckDB's). */
  rowGroupRows?: number;
  /** Called between steps; tests kill the process there. */
  onStep?: (step: 'files-written' | 'manifest-written') => Promise<void> | void;
}

export interface CompactionResult {
  partition: string;
  /** false when there was nothing to compact (already compact). */
  compacted: boolean;
  inputFiles: number;
  inputBytes: number;
  records: number;
  duplicates: number;
  outputFiles: number;
  outputBytes: number;
  generation: string | undefined;
}

interface Listed { name: string; etag: string; size: number }

const MANIFEST = '_manifest.json';

export function manifestKey(dataset: DatasetVersion, partition: string): string {
  return `${objectPrefix(dataset)}/${partition}/${MANIFEST}`;
}

/** The manifest of a partition, or undefined before its first compaction. */
export async function readManifest(client: Client, bucket: string, key: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse((await readObject(client, bucket, key)).toString('utf8')) as Manifest;
  } catch (error) {
    if ((error as { code?: string }).code === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** The live files of a partition as a reader must see them (the manifest rule above). */
export async function liveFiles(client: Client, bucket: string, dataset: DatasetVersion, partition: string): Promise<{ parquet: string[]; ndjson: Listed[] }> {
  const dir = `${objectPrefix(dataset)}/${partition}/`;
  const manifest = await readManifest(client, bucket, dir + MANIFEST);
  const replaced = new Map((manifest?.replaced ?? []).map((r) => [r.key, r.etag]));
  const ndjson = (await list(client, bucket, dir)).filter((o) => o.name.endsWith('.ndjson.gz') && !o.name.slice(dir.length).includes('/') && replaced.get(o.name) !== o.etag);
  return { parquet: (manifest?.files ?? []).map((f) => f.key), ndjson };
}

export async function compactPartition(options: CompactionOptions): Promise<CompactionResult> {
  const { client, bucket, dataset, partition } = options;
  const dir = `${objectPrefix(dataset)}/${partition}/`;
  const manifest = await readManifest(client, bucket, dir + MANIFEST);
  const listing = await list(client, bucket, dir);
  const live = await liveFiles(client, bucket, dataset, partition);
  const result: CompactionResult = { partition, compacted: false, inputFiles: 0, inputBytes: 0, records: 0, duplicates: 0, outputFiles: 0, outputBytes: 0, generation: manifest?.generation };
  if (live.ndjson.length === 0) {
    // Already compact; finish what a killed run left: replaced segments and files of other generations.
    if (manifest) await cleanUp(options, manifest, listing);
    return result;
  }
  const inputs = [...live.parquet.map((key) => ({ key, parquet: true })), ...live.ndjson.map((o) => ({ key: o.name, parquet: false }))];
  const generation = createHash('sha256')
    .update(JSON.stringify([manifest?.generation ?? null, live.ndjson.map((o) => [o.name, o.etag])]))
    .digest('hex')
    .slice(0, 16);
  const work = await mkdtemp(join(tmpdir(), 'sluice-compact-'));
  // Loaded on first use: every `sluice-control-plane` command imports this module, and DuckDB's library adds
  // ~10 MB to the RSS of processes that never compact (the consumer).
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await db.connect();
  try {
    const columns = parquetColumns(dataset.schema);
    // Rows of new segments, in key (= offset) order; `_ord` decides which copy of an id is kept.
    const lines: string[] = [];
    for (const o of live.ndjson) {
      const body = await readObject(client, bucket, o.name);
      result.inputBytes += body.length;
      for (const line of gunzipSync(body).toString('utf8').split('\n')) {
        if (line === '') continue;
        lines.push(JSON.stringify({ ...rowOf(JSON.parse(line) as Envelope, columns), _ord: lines.length }));
      }
    }
    const source = join(work, 'rows.ndjson');
    await writeFile(source, lines.join('\n') + '\n');
    // Column names are the schema's property names, whatever they hold: quoted the SQL way (DuckDB's too).
    const names = columns.map((c) => quoteIdent(c.name)).join(', ');
    const parts = [
      `SELECT ${names}, "_ord" FROM read_ndjson(${quoteLiteral(source)}, columns = {${columns.map((c) => `${quoteLiteral(c.name)}: '${c.type}'`).join(', ')}, '_ord': 'BIGINT'}, maximum_object_size = 67108864)`,
    ];
    // Earlier generations come first: their copy of an id wins.
    for (const [i, key] of live.parquet.entries()) {
      const local = join(work, `in-${i}.parquet`);
      const body = await readObject(client, bucket, key);
      result.inputBytes += body.length;
      await writeFile(local, body);
      parts.unshift(`SELECT *, -1 - ${i} AS "_ord" FROM read_parquet(${quoteLiteral(local)})`);
    }
    await conn.run(`CREATE TABLE input AS ${parts.join(' UNION ALL BY NAME ')}`);
    await conn.run(`CREATE TABLE rows AS SELECT * EXCLUDE ("_ord") FROM input QUALIFY row_number() OVER (PARTITION BY "_id" ORDER BY "_ord") = 1`);
    const counts = (await conn.runAndReadAll(`SELECT (SELECT count(*) FROM input) AS total, count(*) AS kept, min("_event_time")::VARCHAR AS lo, max("_event_time")::VARCHAR AS hi FROM rows`)).getRowObjectsJson()[0]!;
    result.inputFiles = inputs.length;
    result.records = Number(counts.kept);
    result.duplicates = Number(counts.total) - result.records;
    const times = { minEventTime: isoOf(counts.lo), maxEventTime: isoOf(counts.hi) };
    // Files of about the target size: Parquet with zstd lands close to the gzip NDJSON it comes from.
    const target = options.targetFileBytes ?? 128 * 1024 * 1024;
    const fileCount = Math.max(1, Math.ceil(result.inputBytes / target));
    const perFile = Math.ceil(result.records / fileCount);
    const files: Manifest['files'] = [];
    for (let f = 0; f < fileCount; f++) {
      const local = join(work, `out-${f}.parquet`);
      await conn.run(
        `COPY (SELECT * FROM rows ORDER BY "_event_time", "_id" LIMIT ${perFile} OFFSET ${f * perFile}) TO ${quoteLiteral(local)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${options.rowGroupRows ?? 122_880})`,
      );
      const key = `${dir}compacted-${generation}-${String(f).padStart(4, '0')}.parquet`;
      const { size } = await stat(local);
      await client.putObject(bucket, key, createReadStream(local), size, { 'Content-Type': 'application/vnd.apache.parquet', 'x-amz-meta-sluice-dataset': dataset.spec.name });
      files.push({ key, records: Math.max(0, Math.min(perFile, result.records - f * perFile)), bytes: size, ...times });
      result.outputBytes += size;
    }
    result.outputFiles = files.length;
    await options.onStep?.('files-written');
    const next: Manifest = {
      version: 1,
      dataset: dataset.spec.name,
      partition,
      generation,
      files,
      replaced: live.ndjson.map((o) => ({ key: o.name, etag: o.etag })),
      records: result.records,
      writtenAt: new Date().toISOString(),
    };
    const body = Buffer.from(JSON.stringify(next, null, 2));
    // The swap: one PUT of one object replaces what readers see.
    await client.putObject(bucket, dir + MANIFEST, body, body.length, { 'Content-Type': 'application/json' });
    await options.onStep?.('manifest-written');
    await cleanUp(options, next, await list(client, bucket, dir));
    result.compacted = true;
    result.generation = generation;
    return result;
  } finally {
    conn.closeSync();
    db.closeSync();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * After the manifest: removes replaced segments still holding the ETag the manifest names (a rewritten one is
 * live again) and Parquet files of other generations, and brings the partition statistics in line.
 */
async function cleanUp(options: CompactionOptions, manifest: Manifest, listing: readonly Listed[]): Promise<void> {
  const { client, bucket, stats, dataset, partition } = options;
  const replaced = new Map(manifest.replaced.map((r) => [r.key, r.etag]));
  const keep = new Set(manifest.files.map((f) => f.key));
  const remove = listing
    .filter((o) => (o.name.endsWith('.ndjson.gz') && replaced.get(o.name) === o.etag) || (o.name.endsWith('.parquet') && !keep.has(o.name)))
    .map((o) => o.name);
  await stats?.record(bucket, manifest.files.map((f) => ({ key: f.key, dataset: dataset.spec.name, partition, format: 'parquet', records: f.records, bytes: f.bytes, minEventTime: f.minEventTime, maxEventTime: f.maxEventTime })));
  if (remove.length > 0) await client.removeObjects(bucket, remove);
  await stats?.remove(bucket, [...remove, ...manifest.replaced.map((r) => r.key).filter((k) => !listing.some((o) => o.name === k && o.etag !== replaced.get(k)))]);
}

/** A TIMESTAMPTZ DuckDB gave back as text (`2026-05-01 10:00:00+00`) as ISO; undefined for NULL. */
function isoOf(value: unknown): string | undefined {
  return typeof value === 'string' ? new Date(value).toISOString() : undefined;
}

async function list(client: Client, bucket: string, prefix: string): Promise<Listed[]> {
  const out: Listed[] = [];
  for await (const item of client.listObjectsV2(bucket, prefix, true) as AsyncIterable<{ name?: string; etag?: string; size?: number }>) {
    if (item.name) out.push({ name: item.name, etag: item.etag ?? '', size: item.size ?? 0 });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function readObject(client: Client, bucket: string, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of await client.getObject(bucket, key)) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

export type { ParquetColumn };
