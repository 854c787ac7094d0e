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
import { lstat, mkdir, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import picomatch from 'picomatch';
import { untilAborted } from '@sluice/shared/node/until-aborted';
import type { DropSourceConfig } from '@sluice/shared/agent-config/drop';
import type { Source, SourceContext, SourceState } from '../source.ts';
import { DropFileError } from './rows.ts';
import { admitDroppedFile } from './drop-admission.ts';
import { DropShipping, type DropRecord } from './drop-shipping.ts';
import { awaitComplete } from './file-completion.ts';

const TEMP_NAME = /(^\.|\.tmp$|\.part$)/;

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
  private readonly counts = { done: 0, failed: 0, duplicates: 0, rows: 0, failedRows: 0 };
  private shipping: DropShipping | undefined;

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
    this.shipping = new DropShipping({ sourceId: this.id, config: this.config, ctx, signal: this.signal, counts: this.counts });
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
      // Once the watcher is ready the folder has been listed and every file in it is queued.
      ...(this.state === 'running' ? { caughtUp: true } : {}),
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
    const stableMs = this.config.completion.mode === 'rename-in' ? 0 : this.config.completion.stableMs;
    // Completion waits run side by side; reading and shipping run one file at a time (bounded memory).
    void awaitComplete(full, stableMs, this.requireCtx().clock, this.signal)
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

  private async process(name: string, full: string): Promise<void> {
    const ctx = this.requireCtx();
    if (this.signal.aborted) return;
    this.current = name;
    let handedOff = false;
    try {
      const info = await admitDroppedFile(full, {
        rootReal: this.rootReal,
        maxFileBytes: this.config.maxFileBytes,
        allowHardLinks: this.config.allowHardLinks,
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
        if (this.config.duplicates === 'skip') {
          await this.skipDuplicate(name, full, sha, record);
          return;
        }
      }
      const fileFailure = await this.shipping!.ship({ name, full, sha, size: info.size });
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

  /** Waits (off the read queue) for Kafka to acknowledge the file's messages, then moves it away. */
  private drainThenFinish(name: string, full: string, sha: string, fileFailure: { reason: string; position?: number } | undefined): void {
    const ctx = this.requireCtx();
    const work = untilAborted(ctx.drained(sha), this.signal)
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
    const target = this.config.after === 'delete' ? undefined : await freeName(this.doneDir, name);
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
      await ctx.commit([], [{ sourceId: this.id, key: `drop:${sha}`, value: JSON.stringify(done) }]);
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

  private fail(error: unknown, context: Record<string, unknown>): void {
    this.lastError = { at: new Date().toISOString(), message: error instanceof Error ? error.message : String(error) };
    this.ctx?.reportError(error, { source: this.id, ...context });
  }

  private requireCtx(): SourceContext {
    if (!this.ctx) throw new Error(`drop source ${this.id} used before start()`);
    return this.ctx;
  }
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
