/**
 * The control plane's fleet REST surface as the end-to-end tests use it: plain fetch with a bearer key, every
 * answer checked against the status the step expects, so a refused call fails the test with the control
 * plane's own error body instead of a later, vaguer timeout.
 */
import type { AgentDetail, AgentSummary, EnrollmentTokenCreated } from '@sluice/shared/api/fleet-agents';
import type { LedgerResponse } from '@sluice/shared/api/ledger';
import type { RevisionView, RolloutView } from '@sluice/shared/api/policies';
import type { GateSettings } from '@sluice/shared/fleet/rollout';

export type { RevisionView, RolloutView };

/** A rollout strategy as a client sends it: whatever has a default may be left out. */
export type RolloutStrategy =
  | { kind: 'all' }
  | { kind: 'staged'; canary: { percent: number } | { agents: string[] }; waves?: Array<{ percent: number }>; soakSeconds?: number; gate?: Partial<GateSettings> };
export type LedgerRow = LedgerResponse['rows'][number];

export interface ApiAnswer<T> {
  status: number;
  body: T;
}

export type AgentView = AgentSummary;
export type AgentDetailView = AgentDetail;

export class FleetApi {
  readonly #baseUrl: () => string;
  readonly #key: string;

  /** `baseUrl` is read at each call: a restarted control plane may answer somewhere else. */
  constructor(baseUrl: () => string, key: string) {
    this.#baseUrl = baseUrl;
    this.#key = key;
  }

  async call<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer<T>> {
    const all: Record<string, string> = { authorization: `Bearer ${this.#key}`, ...headers };
    if (body !== undefined) all['content-type'] = 'application/json';
    const res = await fetch(`${this.#baseUrl()}${path}`, {
      method,
      headers: all,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }

  /** `call` that insists on one of `statuses` (200 or 201 unless told) and returns the body. */
  async expect<T = unknown>(method: string, path: string, body?: unknown, statuses: number[] = [200, 201]): Promise<T> {
    const answer = await this.call<T>(method, path, body);
    if (!statuses.includes(answer.status)) throw new Error(`${method} ${path} answered ${answer.status}, expected ${statuses.join(' or ')}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  async createDataset(name: string, sinks: Record<string, unknown>): Promise<void> {
    await this.expect('POST', '/api/v1/datasets', { name, sinks, schema: { type: 'object' } }, [201, 409]);
  }

  /** A new enrollment token's secret (shown once). */
  async createEnrollmentToken(options: { labels?: Record<string, string>; maxUses?: number; name?: string } = {}): Promise<string> {
    const created = await this.expect<EnrollmentTokenCreated>('POST', '/api/v1/enrollment-tokens', {
      name: options.name ?? 'e2e',
      labels: options.labels ?? {},
      maxUses: options.maxUses ?? 10,
      expiresInSeconds: 3600,
    });
    return created.token;
  }

  async createPolicy(name: string, labels: Record<string, string>, priority = 0): Promise<void> {
    await this.expect('POST', '/api/v1/policies', { name, description: `e2e policy ${name}`, selector: { labels }, priority });
  }

  async publish(policy: string, config: { sources: unknown[] }, message: string): Promise<RevisionView> {
    return this.expect<RevisionView>('POST', `/api/v1/policies/${policy}/revisions`, { config, message });
  }

  async startRollout(policy: string, revision: number, strategy: RolloutStrategy): Promise<RolloutView> {
    return this.expect<RolloutView>('POST', `/api/v1/policies/${policy}/rollouts`, { revision, strategy });
  }

  async rollout(id: RolloutView['id']): Promise<RolloutView> {
    return this.expect<RolloutView>('GET', `/api/v1/rollouts/${id}`);
  }

  async agents(): Promise<AgentView[]> {
    return (await this.expect<{ items: AgentView[] }>('GET', '/api/v1/agents')).items;
  }

  /** One agent with its bounded check-in history (newest first). */
  async agent(id: string): Promise<AgentDetailView> {
    return this.expect<AgentDetailView>('GET', `/api/v1/agents/${encodeURIComponent(id)}`);
  }

  async revokeAgent(id: string): Promise<void> {
    await this.expect('POST', `/api/v1/agents/${encodeURIComponent(id)}/revoke`, {});
  }

  async ledger(query: Record<string, string>): Promise<LedgerRow[]> {
    return (await this.expect<LedgerResponse>('GET', `/api/v1/ledger?${new URLSearchParams(query).toString()}`)).rows;
  }
}
