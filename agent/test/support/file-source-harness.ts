/**
 * A file source over a real SQLite outbox in a temp folder, for the file source's unit tests: start, stop
 * (the outbox keeps what was committed, as after a crash: commits are synchronous) and start again, then
 * read back what the outbox holds.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FileSourceConfig } from '@sluice/shared/agent-config/file';
import { systemClock, type AbortSignalLike, type Clock } from '@sluice/shared/clock';
import type { Envelope } from '@sluice/shared/envelope';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { createLogger } from '@sluice/shared/node/logger';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { AllowedRoots } from '../../src/config/allowed-roots.ts';
import { Outbox } from '../../src/outbox/outbox.ts';
import { AgentMetrics } from '../../src/runtime/metrics.ts';
import { createSourceContext } from '../../src/runtime/source-context.ts';
import { FileSource } from '../../src/sources/file/file-source.ts';

const log = createLogger('test', { level: 'silent' });

/**
 * The system clock, counting the file source's waits: it sleeps only when it has read every file it knows
 * of to its end and nothing is marked dirty, so each sleep that begins marks a pass that found nothing more.
 */
export class IdleCountingClock implements Clock {
  idles = 0;

  now(): number {
    return systemClock.now();
  }

  sleep(ms: number, options?: { readonly signal?: AbortSignalLike | undefined }): Promise<void> {
    this.idles++;
    return systemClock.sleep(ms, options);
  }
}

export function fileConfig(dir: string, extra: Partial<FileSourceConfig> = {}): FileSourceConfig {
  return {
    type: 'file', id: 'logs', dataset: 'app', include: [path.join(dir, '*.log*')], exclude: [], startAt: 'beginning', format: 'text',
    maxLineBytes: 1024 * 1024, encoding: 'utf8', fingerprintBytes: 64, readChunkBytes: 4096, pollIntervalMs: 20, ...extra,
  };
}

export class FileSourceHarness {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'sluice-file-'));
  readonly outbox = new Outbox({ file: path.join(this.dir, 'state', 'outbox.db'), maxBytes: 1 << 30, maxRows: 1_000_000, synchronous: 'NORMAL' });
  readonly logs = path.join(this.dir, 'logs');
  source: FileSource | undefined;
  abort: AbortController | undefined;
  readonly clock = new IdleCountingClock();
  readonly #running: Array<() => Promise<void>>;

  /** `running` collects a stop for every start, for the test file's afterEach. */
  constructor(running: Array<() => Promise<void>>) {
    this.#running = running;
    mkdirSync(this.logs);
  }

  async start(extra: Partial<FileSourceConfig> = {}, allowedRoots: string[] = [this.logs]): Promise<void> {
    this.abort = new AbortController();
    this.source = new FileSource(fileConfig(this.logs, extra), { baseDir: this.dir, allowedRoots: new AllowedRoots(allowedRoots, this.dir) });
    const ctx = createSourceContext({ agentId: 'a1', sourceId: 'logs', outbox: this.outbox, log, signal: this.abort.signal, metrics: new AgentMetrics({ defaultMetrics: false }), topicPrefix: 'sluice.', clock: this.clock });
    await this.source.start(ctx);
    this.#running.push(() => this.stop());
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.source?.stop();
  }

  records(): Envelope[] {
    return this.outbox.read(0, 10_000_000, Number.MAX_SAFE_INTEGER).flatMap((f) => f.messages).map((m) => readWireEnvelope(m.key, m.value, m.headers));
  }

  texts(): string[] {
    return this.records().map((r) => (r.payload as { message?: string } | null)?.message ?? `<${r.parseError?.reason}>`);
  }

  async waitFor(count: number, timeoutMs = 10_000): Promise<Envelope[]> {
    const detail = () => `have ${this.outbox.stats().rows}: ${JSON.stringify(this.texts())}`;
    await waitFor(() => this.outbox.stats().rows >= count, { timeoutMs, intervalMs: 20, what: `${count} records`, detail });
    // And no more than that: the source has gone idle twice since, so a whole pass over its files found nothing.
    await this.idle(2, Date.now() + timeoutMs);
    return this.records();
  }

  /** Whether the source tracks (has identified and opened) a file of this base name. */
  tracks(name: string): boolean {
    const files = (this.source?.status().details?.files ?? []) as Array<{ path: string }>;
    return files.some((f) => path.basename(f.path) === name);
  }

  /** Resolves once the source has gone idle `passes` more times (read everything it knows of, then waited). */
  async idle(passes = 1, deadline = Date.now() + 10_000): Promise<void> {
    const target = this.clock.idles + passes;
    while (this.clock.idles < target) {
      if (Date.now() > deadline) throw new Error('the file source did not go idle');
      await sleep(5);
    }
  }
}

export const lines = (from: number, to: number, prefix = 'line'): string => Array.from({ length: to - from }, (_, i) => `${prefix} ${from + i}\n`).join('');
