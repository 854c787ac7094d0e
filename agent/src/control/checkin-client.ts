/**
 * The check-in loop of a fleet-managed agent (agent-initiated only, so it works from behind NAT):
 *
 *   check in (config hash, apply state, health, ledger) ──► answer ── desired differs ──► applier.desire()
 *        ▲          │ held up to checkinWaitSeconds            │
 *        │          │ (long-poll)                               └─ nothing new: again after nextCheckinSeconds
 *        │          │                                              (the server's hint, 0 after a full hold)
 *        │          ├─ no answer / 5xx / 429 ──► jittered backoff (Retry-After honoured), again
 *        │          └─ 401 revoked / 403 cloned identity ──► refused: permanent, `onRefused`, the loop ends
 *        └── apply state changed: the held request is abandoned and the new state reported at once
 *
 * The ledger rows sent are marked reported only as far as the answer says they are written, so nothing is lost
 * across an outage; they are cumulative, so a row sent twice is harmless.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ResponseError } from '@sluice/shared/api/response-error';
import { CHECKIN_MAX_LEDGER_ROWS, type CheckinRequest, type CheckinResponse } from '@sluice/shared/fleet/checkin';
import type { Logger } from '@sluice/shared/node/logger';
import { RetryableError, withRetry } from '@sluice/shared/node/retry';
import type { Agent } from '../runtime/agent.ts';
import { AGENT_VERSION } from './agent-version.ts';
import type { ConfigApplier } from './config-applier.ts';
import type { ControlPlaneClient } from './control-plane-client.ts';
import { healthSnapshot } from './health-snapshot.ts';

export interface CheckinClientOptions {
  client: ControlPlaneClient;
  agent: Agent;
  applier: ConfigApplier;
  waitSeconds: number;
  /** The agent's allowedRoots, resolved (the control plane checks a policy's folders against them). */
  allowedRoots: readonly string[];
  log: Logger;
  /** The control plane refused this identity for good (revoked, or in use by another instance). */
  onRefused: (reason: string) => void;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface CheckinStatus {
  lastCheckinAt?: string;
  /** Why the last attempt failed (cleared by the next success). */
  lastError?: { at: string; message: string };
  refused?: string;
}

/** The answer was not "ok" but the control plane may take the next one: tried again after a backoff. */
function retryable(error: unknown): boolean {
  if (error instanceof ResponseError) return error.status !== 401 && error.status !== 403;
  return true;
}

export class CheckinClient {
  readonly #options: CheckinClientOptions;
  readonly #stop = new AbortController();
  #round: AbortController | undefined;
  #loop: Promise<void> | undefined;
  /** Something changed that the control plane should hear now, without a long-poll. */
  #dirty = true;
  #status: CheckinStatus = {};
  #failures = 0;
  /** `apply.at` of the newest apply report the control plane answered 200 to. */
  #deliveredAt = '';
  readonly #deliveryWaiters = new Set<{ at: string; resolve: () => void }>();

  constructor(options: CheckinClientOptions) {
    this.#options = options;
  }

  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => {
      if (!this.#stop.signal.aborted) this.#options.log.error({ err: error }, 'check-in loop stopped unexpectedly');
    });
  }

  /** Reports now: abandons a held long-poll or a backoff. */
  wake(): void {
    this.#dirty = true;
    this.#round?.abort(new Error('check in again now'));
  }

  status(): CheckinStatus {
    return this.#status;
  }

  /** Resolves when a check-in carrying this apply report (or a newer one) was answered, or after `timeoutMs`. */
  async delivered(report: { at: string }, timeoutMs: number): Promise<void> {
    if (this.#deliveredAt >= report.at) return;
    const waiter = { at: report.at, resolve: (): void => undefined };
    const done = new Promise<void>((resolve) => (waiter.resolve = resolve));
    this.#deliveryWaiters.add(waiter);
    await Promise.race([done, sleep(timeoutMs, undefined, { ref: false, signal: this.#stop.signal }).catch(() => undefined)]);
    this.#deliveryWaiters.delete(waiter);
  }

  async stop(): Promise<void> {
    this.#stop.abort(new Error('agent stopping'));
    await this.#loop;
  }

  async #run(): Promise<void> {
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      const round = (this.#round = new AbortController());
      const signal = AbortSignal.any([stop, round.signal]);
      let answer: { response: CheckinResponse } | undefined;
      try {
        answer = await withRetry(() => this.#checkinOnce(signal), {
          retries: Infinity,
          minDelayMs: this.#options.minRetryDelayMs ?? 1000,
          maxDelayMs: this.#options.maxRetryDelayMs ?? 30_000,
          signal,
          isRetryable: (error) => error instanceof RetryableError,
        });
      } catch (error) {
        if (stop.aborted) return;
        if (round.signal.aborted) continue;
        const reason = error instanceof Error ? error.message : String(error);
        this.#status = { ...this.#status, refused: reason, lastError: { at: new Date().toISOString(), message: reason } };
        this.#options.log.error({ reason }, 'the control plane refused this agent; it stops collecting until it is enrolled again');
        this.#options.onRefused(reason);
        return;
      }
      const { response } = answer;
      this.#handle(response);
      // The hint already counts the time the answer was held: 0 after a full long-poll.
      const pauseMs = response.nextCheckinSeconds * 1000;
      if (this.#dirty || pauseMs === 0) continue;
      await sleep(pauseMs, undefined, { signal }).catch(() => undefined);
    }
  }

  async #checkinOnce(signal: AbortSignal): Promise<{ response: CheckinResponse }> {
    const { agent, applier, client } = this.#options;
    const waitSeconds = this.#dirty || applier.pendingHash !== undefined ? 0 : this.#options.waitSeconds;
    this.#dirty = false;
    const ledger = agent.outbox.ledger.changedSince(CHECKIN_MAX_LEDGER_ROWS);
    const running = applier.running();
    const report = applier.report();
    const body: CheckinRequest = {
      version: AGENT_VERSION,
      waitSeconds,
      config: { hash: running.hash, revision: running.revision },
      apply: { state: report.state, hash: report.hash, ...(report.reason === undefined ? {} : { reason: report.reason.slice(0, 4096) }), at: report.at },
      health: await healthSnapshot(agent),
      ledger: ledger.rows.map((r) => ({ dataset: r.dataset, minute: new Date(r.minute).toISOString(), shipped: r.shipped })),
      ledgerThrough: ledger.through,
      allowedRoots: [...this.#options.allowedRoots],
    };
    try {
      const response = await client.checkin(body, signal);
      // A control plane that acknowledges says how far the rows are written; one that does not wrote them before answering.
      agent.outbox.ledger.markReported(response.ledgerAckedThrough ?? ledger.through);
      agent.outbox.ledger.prune();
      if (report.at > this.#deliveredAt) this.#deliveredAt = report.at;
      for (const waiter of this.#deliveryWaiters) if (waiter.at <= this.#deliveredAt) waiter.resolve();
      if (this.#failures > 0) this.#options.log.info({ failures: this.#failures }, 'control plane reachable again');
      this.#failures = 0;
      this.#status = { lastCheckinAt: new Date().toISOString() };
      return { response };
    } catch (error) {
      if (signal.aborted) throw error;
      this.#dirty = true;
      const message = error instanceof Error ? error.message : String(error);
      this.#status = { ...this.#status, lastError: { at: new Date().toISOString(), message } };
      if (!retryable(error)) throw error;
      // Logged when it starts, not on every attempt of an outage: the agent keeps shipping meanwhile.
      if (this.#failures++ === 0) this.#options.log.warn({ reason: message }, 'check-in failed; the agent keeps running its config and tries again');
      const retryAfterSeconds = error instanceof ResponseError ? error.retryAfterSeconds : undefined;
      throw new RetryableError(message, { cause: error, ...(retryAfterSeconds === undefined ? {} : { retryAfterMs: retryAfterSeconds * 1000 }) });
    }
  }

  #handle(response: CheckinResponse): void {
    const desired = response.desired;
    if (desired === null) return;
    const revision = { policy: desired.revision.policy, number: desired.revision.number };
    const running = this.#options.applier.running();
    if (desired.hash !== running.hash && response.config === undefined) return;
    void this.#options.applier.desire(desired.hash, revision, response.config).catch((error: unknown) => this.#options.log.error({ err: error }, 'apply failed unexpectedly'));
  }
}
