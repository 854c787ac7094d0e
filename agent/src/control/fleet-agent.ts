/**
 * `sluice-agent run` for a fleet-managed agent (one with `<dataDir>/fleet/identity.json`): starts a new
 * session, runs the last good pipeline at once (the control plane may be away), then checks in and applies
 * what the control plane wants. Refused for good (revoked, or the identity is in use by another instance),
 * it stops its sources, keeps /status answering with the reason and waits to be stopped: a clone must
 * not ship records under another device's ids.
 */
import type { Logger } from '@sluice/shared/node/logger';
import { DEFAULT_APPLY_TIMEOUT_SECONDS, DEFAULT_CHECKIN_WAIT_SECONDS } from '@sluice/shared/agent-config/control-plane';
import { AllowedRoots } from '../config/allowed-roots.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import { Agent, type AgentOptions } from '../runtime/agent.ts';
import { CheckinClient } from './checkin-client.ts';
import { ConfigApplier } from './config-applier.ts';
import { ControlPlaneClient } from './control-plane-client.ts';
import { dataDirOf } from './enroll.ts';
import { beginSession, instanceHeaderOf, type AgentIdentity } from './identity.ts';
import { readLastGood } from './last-good.ts';
import { fleetLocalConfig } from './pipeline-config.ts';

/** How long a failed apply waits for the control plane to hear `failed` before rolling back. */
const REPORT_FAILED_WITHIN_MS = 3000;

export interface FleetAgentOptions extends Omit<AgentOptions, 'extraStatus'> {
  /** Test knobs: backoff bounds and how often an apply looks at its sources. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  applyPollMs?: number;
}

export class FleetAgent {
  readonly agent: Agent;
  readonly applier: ConfigApplier;
  readonly checkin: CheckinClient;
  readonly #log: Logger;
  readonly #local: LoadedConfig;
  #refused: string | undefined;

  private constructor(parts: { agent: Agent; applier: ConfigApplier; checkin: CheckinClient; log: Logger; local: LoadedConfig }) {
    this.agent = parts.agent;
    this.applier = parts.applier;
    this.checkin = parts.checkin;
    this.#log = parts.log;
    this.#local = parts.local;
  }

  /** Throws ConfigError when the YAML does not fit a fleet-managed agent (own sources, another agentId). */
  static async start(loaded: LoadedConfig, stored: AgentIdentity, options: FleetAgentOptions): Promise<FleetAgent> {
    const log = options.log;
    const dataDir = dataDirOf(loaded);
    const local = fleetLocalConfig(loaded, stored.agentId);
    // Before the first request: a crash after this can never make this process's session reusable.
    const identity = beginSession(dataDir, stored);
    const cp = local.config.controlPlane;
    const { lastGood, problem } = readLastGood(dataDir);
    if (problem !== undefined) log.warn(problem);
    // The applier, the agent and the check-in client refer to each other; each is built once.
    const late: { agent?: Agent; checkin?: CheckinClient; fleet?: FleetAgent } = {};
    const applier = new ConfigApplier({
      target: { reload: (next) => late.agent!.reload(next), sourceReports: () => late.agent!.sourceReports() },
      local,
      dataDir,
      applyTimeoutMs: (cp?.applyTimeoutSeconds ?? DEFAULT_APPLY_TIMEOUT_SECONDS) * 1000,
      log: log.child({ component: 'apply' }),
      onChange: () => late.checkin?.wake(),
      // Bounded: with the control plane away the rollback must not wait for it.
      delivered: (report) => late.checkin?.delivered(report, REPORT_FAILED_WITHIN_MS) ?? Promise.resolve(),
      ...(options.applyPollMs === undefined ? {} : { pollMs: options.applyPollMs }),
    });
    const initial = applier.initial(lastGood);
    const agent = (late.agent = new Agent(initial, { ...options, extraStatus: () => ({ fleet: late.fleet?.status() }) }));
    await agent.start();
    void applier.adoptInitial();
    const client = new ControlPlaneClient({
      url: identity.url,
      caFile: identity.caFile,
      credential: identity.credential,
      instance: instanceHeaderOf(identity),
      timeoutMs: cp?.timeoutMs ?? 5000,
    });
    const checkin = (late.checkin = new CheckinClient({
      client,
      agent,
      applier,
      waitSeconds: cp?.checkinWaitSeconds ?? DEFAULT_CHECKIN_WAIT_SECONDS,
      allowedRoots: new AllowedRoots(local.config.allowedRoots, local.baseDir).real,
      log: log.child({ component: 'checkin' }),
      onRefused: (reason) => void late.fleet?.refused(reason),
      ...(options.minRetryDelayMs === undefined ? {} : { minRetryDelayMs: options.minRetryDelayMs }),
      ...(options.maxRetryDelayMs === undefined ? {} : { maxRetryDelayMs: options.maxRetryDelayMs }),
    }));
    const fleet = (late.fleet = new FleetAgent({ agent, applier, checkin, log, local }));
    log.info({ agentId: identity.agentId, controlPlane: identity.url, session: identity.instance.counter, lastGood: lastGood?.hash ?? null }, 'fleet-managed agent started');
    checkin.start();
    return fleet;
  }

  /** For /status (redacted there): who this agent is to its control plane and how the last apply went. */
  status(): Record<string, unknown> {
    return {
      mode: 'fleet-managed',
      ...(this.#refused === undefined ? {} : { refused: this.#refused }),
      running: this.applier.running(),
      apply: this.applier.report(),
      checkin: this.checkin.status(),
    };
  }

  /** Refused for good: no source may run any more; the outbox keeps what it holds. */
  async refused(reason: string): Promise<void> {
    if (this.#refused !== undefined) return;
    this.#refused = reason;
    this.applier.close();
    await this.applier.idle().catch(() => undefined);
    await this.agent.reload(this.#local).catch((error: unknown) => this.#log.error({ err: error }, 'stopping the sources failed'));
  }

  async stop(): Promise<void> {
    this.applier.close();
    await this.checkin.stop();
    await this.agent.stop();
  }
}
