/**
 * The `file` source: tails files matched by glob patterns (see README.md beside this file for identity and
 * rotation rules). chokidar watches the glob base folders and only wakes the reader; a poll every
 * `pollIntervalMs` re-checks every tracked file, so a missed event delays a line but never loses it.
 *
 * Per tracked file: read a chunk → split into records → ctx.commit(records, checkpoint) in one transaction.
 * The checkpoint (file-identity.ts) stores the identity and the resume offset, so after a crash the file
 * resumes exactly after the last committed record. Every file is opened by its real path, and only when
 * that is inside allowedRoots (file-confinement.ts).
 */
import { constants, watch as watchFile, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher as ChokidarWatcher } from 'chokidar';
import type { FileSourceConfig } from '@sluice/shared/agent-config/file';
import type { AllowedRoots } from '../../config/allowed-roots.ts';
import type { OutboxMessage, Source, SourceContext, SourceState } from '../source.ts';
import { FileConfinement } from './file-confinement.ts';
import { FileEnvelopeEncoder } from './file-envelopes.ts';
import { FileIdentities, headHash, locationOf, type FileCheckpoint } from './file-identity.ts';
import { includeMatcher, type IncludeMatcher } from './include-matcher.ts';
import { LineSplitter, type SplitRecord } from './line-splitter.ts';

interface Tracker {
  cp: FileCheckpoint;
  fh: FileHandle;
  splitter: LineSplitter;
  lastSize: number;
  lastDataAt: number;
  /** The watched path no longer points at this file (renamed away or deleted): read to EOF, then close. */
  rotatedSince: number | undefined;
  /** inotify on the file itself: chokidar reports a file's changes at most every 50 ms, this at once. */
  watcher: FSWatcher | undefined;
}

/** How long a rotated-away file is kept open after its last growth (the writer may still be flushing). */
const ROTATED_GRACE_MS = 1000;
/** Chunks read from one file before the others get a turn. */
const CHUNKS_PER_TURN = 16;
/** Chunks read from one file that may go into one commit while it has a backlog (4 MiB by default). */
const CHUNKS_PER_COMMIT = 8;

export class FileSource implements Source {
  readonly id: string;
  readonly kind = 'file' as const;
  readonly #config: FileSourceConfig;
  readonly #matcher: IncludeMatcher;
  readonly #confinement: FileConfinement;
  readonly #multiline: { startPattern: RegExp; maxLines: number; timeoutMs: number } | undefined;
  #ctx: SourceContext | undefined;
  #watcher: ChokidarWatcher | undefined;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  readonly #dirty = new Set<string>();
  readonly #trackers = new Map<string, Tracker>();
  #identities: FileIdentities | undefined;
  #firstRun = false;
  #initialScan = true;
  #state: SourceState = { state: 'starting' };
  #linesCommitted = 0;
  /** Every file the first scan found has been read to its end once. */
  #caughtUp = false;
  #stopped = false;
  #readBuffer: Buffer | undefined;
  #encoder: FileEnvelopeEncoder | undefined;

  constructor(config: FileSourceConfig, options: { baseDir: string; allowedRoots: AllowedRoots }) {
    this.id = config.id;
    this.#config = config;
    this.#matcher = includeMatcher(config, options.baseDir);
    this.#confinement = new FileConfinement(options.allowedRoots, this.#matcher, (error, file) => this.#ctx?.reportError(error, { source: this.id, path: file }));
    this.#multiline = config.multiline
      ? { startPattern: new RegExp(config.multiline.startPattern), maxLines: config.multiline.maxLines, timeoutMs: config.multiline.timeoutMs }
      : undefined;
  }

  async start(ctx: SourceContext): Promise<void> {
    this.#ctx = ctx;
    this.#identities = new FileIdentities(this.id, this.#config.fingerprintBytes, ctx.checkpoints());
    this.#firstRun = this.#identities.empty;
    const watcher = watch(this.#matcher.bases, {
      persistent: false,
      ignoreInitial: false,
      // atomic would fold unlink+add into one change and hide a rename-rotation from us.
      atomic: false,
      // Links are followed only where they stay inside allowedRoots: nothing outside is even listed.
      ignored: (file, stats) => this.#confinement.isOutsideLink(file, stats),
      ...(this.#matcher.deep ? {} : { depth: 0 }),
    });
    this.#watcher = watcher;
    const onPath = (file: string): void => {
      if (this.#matcher.matches(path.resolve(file))) this.#dirty.add(path.resolve(file));
      this.#wake?.();
    };
    watcher.on('add', onPath).on('change', onPath).on('unlink', () => this.#wake?.());
    watcher.on('error', (error) => ctx.reportError(error, { source: this.id }));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.#loop = this.#run().catch((error: unknown) => {
      if (ctx.signal.aborted) return;
      this.#state = { state: 'failed', lastError: { at: new Date().toISOString(), message: (error as Error).message } };
      ctx.reportError(error, { source: this.id });
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#wake?.();
    await this.#watcher?.close();
    await this.#loop;
    for (const t of this.#trackers.values()) await this.#untrack(t);
    this.#trackers.clear();
    this.#state = { ...this.#state, state: 'stopped' };
  }

  status(): SourceState {
    const files = [...this.#trackers.values()].map((t) => ({ path: t.cp.path, offset: t.splitter.safeOffset, size: t.lastSize, rotated: t.rotatedSince !== undefined }));
    return {
      ...this.#state,
      ...(this.#caughtUp ? { caughtUp: true } : {}),
      position: files.map((f) => `${path.basename(f.path)}@${f.offset}`).join(', '),
      details: { files, linesCommitted: this.#linesCommitted, ...this.#confinement.details() },
    };
  }

  get #aborted(): boolean {
    return this.#stopped || (this.#ctx?.signal.aborted ?? true);
  }

  async #run(): Promise<void> {
    const ctx = this.#ctx!;
    this.#state = { state: 'running' };
    let first = true;
    while (!this.#aborted) {
      const paths = [...this.#dirty];
      this.#dirty.clear();
      for (const file of paths) {
        if (this.#aborted) return;
        await this.#discover(file).catch((error: unknown) => {
          if (!this.#aborted) ctx.reportError(error, { source: this.id, path: file });
        });
      }
      if (first) {
        first = false;
        this.#initialScan = false;
        await this.#pruneCheckpoints();
      }
      for (const tracker of [...this.#trackers.values()]) {
        if (this.#aborted) return;
        await this.#service(tracker).catch((error: unknown) => {
          if (!this.#aborted) ctx.reportError(error, { source: this.id, path: tracker.cp.path });
        });
      }
      if (this.#aborted) return;
      this.#caughtUp = true;
      if (this.#dirty.size === 0) await this.#idle();
    }
  }

  async #idle(): Promise<void> {
    const wake = new Promise<void>((resolve) => (this.#wake = resolve));
    await Promise.race([wake, this.#ctx!.clock.sleep(this.#config.pollIntervalMs)]);
    this.#wake = undefined;
  }

  /** Finds out which file `file` is: a tracked one renamed, a checkpointed one, a copy, or a new one. */
  async #discover(file: string): Promise<void> {
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) return;
    const location = locationOf(st);
    const tracked = this.#trackers.get(location);
    if (tracked) {
      tracked.cp.path = file;
      tracked.rotatedSince = undefined;
      return;
    }
    const real = await this.#confinement.realPathInside(file);
    if (real === undefined) return;
    // By its real path and without following a link swapped in since: what is opened is what was checked.
    const fh = await open(real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    try {
      const opened = await fh.stat();
      if (locationOf(opened) !== location) {
        // Replaced between the checks and the open: looked at again on the next turn.
        await fh.close();
        this.#dirty.add(file);
        return;
      }
      if (opened.size === 0 && !this.#identities!.hasPosition(location)) {
        // Nothing to tell what it is yet (a copy is created empty, then filled): decided on its first write.
        await fh.close();
        return;
      }
      const startAtEnd = this.#firstRun && this.#initialScan && this.#config.startAt === 'end';
      const { cp, checkpoints } = await this.#identities!.identify(fh, opened, file, async () => (startAtEnd ? lastNewlineEnd(fh, opened.size) : 0));
      // The decision is committed before anything is read, so a crash cannot make a different one.
      if (checkpoints.length > 0) await this.#ctx!.commit([], checkpoints);
      this.#trackers.set(location, { cp, fh, splitter: this.#splitter(cp), lastSize: -1, lastDataAt: Date.now(), rotatedSince: undefined, watcher: this.#watchFile(file, location) });
    } catch (error) {
      await fh.close();
      throw error;
    }
  }

  /** Wakes the reader on every write to the file. Best effort: the poll still covers a watch that fails. */
  #watchFile(file: string, devIno: string): FSWatcher | undefined {
    try {
      const watcher = watchFile(file, { persistent: false }, () => {
        const t = this.#trackers.get(devIno);
        if (t) this.#dirty.add(t.cp.path);
        this.#wake?.();
      });
      watcher.on('error', () => watcher.close());
      return watcher;
    } catch {
      return undefined;
    }
  }

  async #untrack(t: Tracker): Promise<void> {
    t.watcher?.close();
    await t.fh.close().catch(() => undefined);
  }

  #splitter(cp: FileCheckpoint): LineSplitter {
    return new LineSplitter({ maxLineBytes: this.#config.maxLineBytes, multiline: this.#multiline, raw: true }, { offset: cp.offset, skipping: cp.skipping });
  }

  /** Positions of files that no longer exist are dropped after the first scan (retired identities stay). */
  async #pruneCheckpoints(): Promise<void> {
    const gone = this.#identities!.prune(new Set(this.#trackers.keys()));
    if (gone.length > 0) await this.#ctx!.commit([], gone);
  }

  /** Reads what is new in one file, detects truncation and rotation, flushes timed-out multiline events. */
  async #service(t: Tracker): Promise<void> {
    const st = await t.fh.stat();
    const location = locationOf(t.cp);
    if (await this.#truncated(t, st.size)) {
      // Truncated (or rewritten in place): the content is new, so is its generation and record ids. The old
      // identity is retired in the same transaction, for the copy copytruncate made (seen now or later).
      const identities = this.#identities!;
      const retired = identities.retire(t.cp);
      await identities.nextGeneration(t.cp, t.fh, st.size);
      t.splitter = this.#splitter(t.cp);
      await this.#ctx!.commit([], [...retired, identities.record(t.cp)]);
      this.#ctx!.log.info({ source: this.id, path: t.cp.path }, 'file truncated; reading it again from the start');
    }
    t.lastSize = st.size;
    let turns = 0;
    // One read buffer per source, reused: records are encoded (copied) right after each read. With a backlog,
    // several chunks go into one commit (up to CHUNKS_PER_COMMIT): fewer transactions, fewer fsyncs.
    const buffer = (this.#readBuffer ??= Buffer.allocUnsafe(this.#config.readChunkBytes));
    let pending: OutboxMessage[] = [];
    let pendingLines = 0;
    let pendingChunks = 0;
    while (t.splitter.position < st.size && turns++ < CHUNKS_PER_TURN && !this.#aborted) {
      const { bytesRead } = await t.fh.read(buffer, 0, Math.min(buffer.length, st.size - t.splitter.position), t.splitter.position);
      if (bytesRead === 0) break;
      const records = t.splitter.push(buffer.subarray(0, bytesRead));
      t.lastDataAt = Date.now();
      pending = pending.length === 0 ? this.#encode(t, records) : pending.concat(this.#encode(t, records));
      pendingLines += records.length;
      if (++pendingChunks === CHUNKS_PER_COMMIT) {
        await this.#commitMessages(t, pending, pendingLines);
        pending = [];
        pendingLines = 0;
        pendingChunks = 0;
      }
    }
    if (pendingChunks > 0) await this.#commitMessages(t, pending, pendingLines);
    if (t.splitter.position < st.size) {
      this.#dirty.add(t.cp.path); // more to read: come back right after the other files had their turn
      return;
    }
    if (this.#multiline && t.splitter.hasPendingEvent && Date.now() - t.lastDataAt >= this.#multiline.timeoutMs) {
      await this.#commitRecords(t, t.splitter.flushEvent());
    }
    await this.#checkRotation(t, location, st.nlink);
  }

  /**
   * Whether the file's content was replaced: its head changed, or it is shorter than the read position
   * (unless it is a copy still being written: see FileCheckpoint.catchUp).
   */
  async #truncated(t: Tracker, size: number): Promise<boolean> {
    if (size !== t.lastSize && !(await this.#headStillMatches(t, size))) return true;
    if (size >= t.splitter.position) {
      delete t.cp.catchUp;
      return false;
    }
    return t.cp.catchUp !== true;
  }

  async #checkRotation(t: Tracker, devIno: string, nlink: number): Promise<void> {
    const now = await stat(t.cp.path).catch(() => undefined);
    const moved = now === undefined || locationOf(now) !== devIno;
    if (!moved) {
      t.rotatedSince = undefined;
      return;
    }
    t.rotatedSince ??= Date.now();
    if (Date.now() - Math.max(t.rotatedSince, t.lastDataAt) < ROTATED_GRACE_MS) return;
    // Renamed away or deleted, read to its end and quiet: emit the last line even without a newline, close.
    await this.#commitRecords(t, t.splitter.flushAll());
    this.#trackers.delete(devIno);
    await this.#untrack(t);
    if (nlink === 0) await this.#ctx!.commit([], [this.#identities!.forget(devIno)]);
  }

  async #headStillMatches(t: Tracker, size: number): Promise<boolean> {
    if (size < t.cp.headLen) return false;
    if ((await headHash(t.fh, t.cp.headLen)) !== t.cp.headHash) return false;
    const n = this.#config.fingerprintBytes;
    if (t.cp.headLen < n && size > t.cp.headLen) {
      // The head grows with the file until fingerprintBytes; persisted with the next commit.
      t.cp.headLen = Math.min(n, size);
      t.cp.headHash = await headHash(t.fh, t.cp.headLen);
    }
    return true;
  }

  async #commitRecords(t: Tracker, records: SplitRecord[]): Promise<void> {
    await this.#commitMessages(t, this.#encode(t, records), records.length);
  }

  #encode(t: Tracker, records: SplitRecord[]): OutboxMessage[] {
    const ctx = this.#ctx!;
    this.#encoder ??= new FileEnvelopeEncoder({ agentId: ctx.agentId, sourceId: this.id, dataset: this.#config.dataset, format: this.#config.format, route: ctx.route(this.#config.dataset) });
    ctx.countRead(records.length);
    return this.#encoder.encode(t.cp, records, new Date().toISOString());
  }

  /** Commits the messages with the file's position after them (the splitter's safe offset) in one transaction. */
  async #commitMessages(t: Tracker, messages: OutboxMessage[], lines: number): Promise<void> {
    t.cp.offset = t.splitter.safeOffset;
    t.cp.skipping = t.splitter.skipping && !t.splitter.hasPartialLine;
    await this.#ctx!.commit(messages, [this.#identities!.record(t.cp)]);
    this.#linesCommitted += lines;
  }
}

/** startAt: end begins after the last complete line, so a half-written line is not cut in two. */
async function lastNewlineEnd(fh: FileHandle, size: number): Promise<number> {
  const window = Math.min(size, 64 * 1024);
  const buffer = Buffer.alloc(window);
  await fh.read(buffer, 0, window, size - window);
  const nl = buffer.lastIndexOf(0x0a);
  return nl < 0 ? size - window : size - window + nl + 1;
}
