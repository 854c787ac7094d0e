/**
 * Applies the pipelines the control plane sends, honestly:
 *
 *             apply(P)                    every source of P runs and has committed once or
 *   (any) ───────────────► applying(P) ──── finished its first scan, within applyTimeoutSeconds ──► applied(P)
 *                               │                                                      P is the new last good
 *                               │ P invalid here (schema, ${env:…}, allowedRoots), a source fails to start,
 *                               │ or the timeout passes
 *                               ▼
 *                           failed(P, reason) ── reload of the last good (none: no sources) ──► rolled-back(P, reason)
 *
 * `applied` is never claimed for a config that has not shown it works; the control plane treats `failed` and
 * `rolled-back` of a revision alike. A hash that failed is not tried again by this process unless the
 * control plane asks for something else in between (it would fail the same way). Applies run one at a
 * time; a newer desired config queued meanwhile replaces an older queued one. At start the last good is
 * adopted (applying → applied, or failed when it no longer works: there is nothing older to return to).
 * Reloads go through Agent.reload, so no record is lost: sources stop after their last commit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApplyState } from '@sluice/shared/fleet/checkin';
import type { Logger } from '@sluice/shared/node/logger';
import { formatProblems } from '@sluice/shared/agent-config/validate';
import type { LoadedConfig } from '../config/load-config.ts';
import type { ReloadResult, SourceReport } from '../runtime/agent.ts';
import { writeLastGood, type LastGood, type RevisionRef } from './last-good.ts';
import { composeConfig } from './pipeline-config.ts';

/** What the applier needs of the agent (tests hand it a fake). */
export interface ApplyTarget {
  reload(next: LoadedConfig): Promise<ReloadResult>;
  sourceReports(): SourceReport[];
}

export interface ApplyReport {
  state: ApplyState;
  /** The hash this state is about (for `rolled-back`: the one that failed). */
  hash: string | null;
  reason?: string;
  at: string;
}

export interface RunningConfig {
  hash: string | null;
  revision: RevisionRef | null;
}

export interface ConfigApplierOptions {
  target: ApplyTarget;
  /** The local YAML (fleetLocalConfig): the pipeline is added to it. */
  local: LoadedConfig;
  dataDir: string;
  applyTimeoutMs: number;
  log: Logger;
  /** Called on every state change: the check-in client reports it at once. */
  onChange?: (report: ApplyReport) => void;
  /**
   * Resolves once the control plane has heard `report` (or gave up waiting for it): `failed` is reported
   * before the rollback replaces it, so the fleet sees both.
   */
  delivered?: (report: ApplyReport) => Promise<void>;
  /** How often sources are looked at while applying. */
  pollMs?: number;
  env?: NodeJS.ProcessEnv;
}

interface Pending {
  hash: string;
  revision: RevisionRef | null;
  config: unknown;
}

export class ConfigApplier {
  readonly #options: ConfigApplierOptions;
  #report: ApplyReport;
  #running: RunningConfig = { hash: null, revision: null };
  #lastGood: LastGood | undefined;
  #failedHash: string | undefined;
  #queued: Pending | undefined;
  #applying: Promise<void> | undefined;
  #adopting: Promise<void> | undefined;
  #closed = false;

  constructor(options: ConfigApplierOptions) {
    this.#options = options;
    this.#report = { state: 'applied', hash: null, at: new Date().toISOString() };
  }

  report(): ApplyReport {
    return this.#report;
  }

  running(): RunningConfig {
    return this.#running;
  }

  /** The hash being applied or queued, if any. */
  get pendingHash(): string | undefined {
    return this.#queued?.hash;
  }

  /**
   * The config the agent starts with: the last good pipeline composed onto the local config, or no sources
   * (none yet, or it no longer composes: the reason is reported as `failed`).
   */
  initial(lastGood: LastGood | undefined): LoadedConfig {
    this.#lastGood = lastGood;
    if (lastGood === undefined) return this.#options.local;
    const composed = composeConfig(this.#options.local, lastGood.config, this.#options.env);
    if (!composed.ok) {
      this.#set({ state: 'failed', hash: lastGood.hash, reason: `last good config: ${formatProblems(composed.problems)}` });
      this.#failedHash = lastGood.hash;
      return this.#options.local;
    }
    this.#running = { hash: lastGood.hash, revision: lastGood.revision };
    this.#set({ state: 'applying', hash: lastGood.hash });
    return composed.loaded;
  }

  /** After the agent started on `initial()`: judges the last good like any apply, without a rollback. */
  adoptInitial(): Promise<void> {
    const hash = this.#running.hash;
    if (hash === null || this.#report.state !== 'applying') return Promise.resolve();
    this.#adopting = this.#settle(hash).then((reason) => {
      if (this.#closed || this.#report.hash !== hash || this.#report.state !== 'applying') return;
      if (reason === undefined) this.#set({ state: 'applied', hash });
      else this.#set({ state: 'failed', hash, reason });
    });
    return this.#adopting;
  }

  /**
   * What the control plane wants: applied when it differs from what runs, unless this process saw it fail.
   * Resolves when the apply (if any) is over.
   */
  desire(hash: string, revision: RevisionRef | null, config: unknown): Promise<void> {
    if (hash === this.#failedHash) return this.#applying ?? Promise.resolve();
    // The control plane wants something else than what failed: a later return to that one is tried again.
    this.#failedHash = undefined;
    if (hash === this.#running.hash) {
      // What runs already (e.g. a rollback to it, or an equal config under a new revision): nothing to reload.
      this.#queued = undefined;
      if (this.#applying === undefined) this.#running = { hash, revision };
      return this.#applying ?? Promise.resolve();
    }
    if (hash === this.#queued?.hash) return this.#applying ?? Promise.resolve();
    this.#queued = { hash, revision, config };
    this.#applying ??= this.#drain();
    return this.#applying;
  }

  /** Waits for an apply in progress (tests, shutdown). */
  async idle(): Promise<void> {
    await this.#adopting;
    while (this.#applying) await this.#applying;
  }

  close(): void {
    this.#closed = true;
    this.#queued = undefined;
  }

  async #drain(): Promise<void> {
    try {
      // The adoption of the initial config is waited for, not interrupted.
      await this.#adopting;
      while (this.#queued && !this.#closed) {
        const next = this.#queued;
        await this.#apply(next);
        if (this.#queued === next) this.#queued = undefined;
      }
    } finally {
      this.#applying = undefined;
    }
  }

  async #apply(next: Pending): Promise<void> {
    const { log } = this.#options;
    this.#set({ state: 'applying', hash: next.hash });
    const composed = composeConfig(this.#options.local, next.config, this.#options.env);
    if (!composed.ok) {
      await this.#fail(next, `invalid on this agent: ${formatProblems(composed.problems)}`, false);
      return;
    }
    if (composed.hash !== next.hash) log.warn({ desired: next.hash, computed: composed.hash }, 'the received pipeline hashes differently here than at the control plane; reporting the hash it runs');
    const result = await this.#options.target.reload(composed.loaded);
    this.#running = { hash: next.hash, revision: next.revision };
    const reason =
      result.failed.length > 0 ? result.failed.map((f) => `sources.${f.id}: failed to start: ${f.reason}`).join('; ') : await this.#settle(next.hash, composed.loaded.config.sources.map((s) => s.id));
    if (this.#closed) return;
    if (reason !== undefined) {
      await this.#fail(next, reason, true);
      return;
    }
    this.#lastGood = { revision: next.revision, hash: next.hash, config: composed.pipeline };
    writeLastGood(this.#options.dataDir, this.#lastGood);
    this.#failedHash = undefined;
    this.#set({ state: 'applied', hash: next.hash });
    log.info({ hash: next.hash, revision: next.revision }, 'config applied: every source runs');
  }

  /** failed(P) → reload of the last good → rolled-back(P). `reloaded`: P was running and must be replaced. */
  async #fail(next: Pending, reason: string, reloaded: boolean): Promise<void> {
    const { log } = this.#options;
    this.#failedHash = next.hash;
    this.#set({ state: 'failed', hash: next.hash, reason });
    log.warn({ hash: next.hash, revision: next.revision, reason }, 'config failed; returning to the last good config');
    await this.#options.delivered?.(this.#report);
    if (reloaded) {
      const lastGood = this.#lastGood;
      const back = lastGood === undefined ? undefined : composeConfig(this.#options.local, lastGood.config, this.#options.env);
      await this.#options.target.reload(back?.ok === true ? back.loaded : this.#options.local);
      this.#running = back?.ok === true && lastGood ? { hash: lastGood.hash, revision: lastGood.revision } : { hash: null, revision: null };
    }
    if (this.#closed) return;
    this.#set({ state: 'rolled-back', hash: next.hash, reason });
  }

  /** Undefined once every source (of `ids`, default all) runs and is proven; else why not, at the timeout. */
  async #settle(hash: string, ids?: string[]): Promise<string | undefined> {
    const { applyTimeoutMs, pollMs = 100 } = this.#options;
    const deadline = Date.now() + applyTimeoutMs;
    for (;;) {
      const wanted = ids === undefined ? undefined : new Set(ids);
      const sources = this.#options.target.sourceReports().filter((s) => wanted === undefined || wanted.has(s.id));
      const broken = sources.find((s) => s.state === 'failed' || s.startError !== undefined);
      if (broken) return `sources.${broken.id}: ${broken.startError ?? broken.lastError?.message ?? 'failed'}`;
      const waiting = sources.filter((s) => !(s.proven && (s.state === 'running' || s.state === 'paused')));
      if (waiting.length === 0) return undefined;
      if (this.#closed) return 'agent stopping';
      if (Date.now() >= deadline) {
        return `not every source worked within ${Math.round(applyTimeoutMs / 1000)} s (${hash.slice(0, 12)}): ${waiting
          .map((s) => `sources.${s.id} is ${s.state}${s.proven ? '' : ', nothing committed or scanned yet'}${s.lastError ? ` (${s.lastError.message})` : ''}`)
          .join('; ')}`;
      }
      await sleep(pollMs);
    }
  }

  #set(report: Omit<ApplyReport, 'at'>): void {
    this.#report = { ...report, at: new Date().toISOString() };
    this.#options.onChange?.(this.#report);
  }
}
