/**
 * Policies and their immutable revisions. A revision's config is the pipeline part of the agent config,
 * checked by the agent's own validator (shared/src/agent-config/validate.ts: same schema, same defaults) and
 * by publish-check.ts (datasets exist, folders inside each selected agent's allowedRoots), stored defaulted
 * with its configHash: exactly what agents receive and hash. The first revision of a policy becomes its
 * current one at once (there is nothing to roll out from); later ones through a rollout (rollout-store.ts).
 */
import type pg from 'pg';
import type { PipelineConfig } from '@sluice/shared/agent-config/index';
import { validatePipeline, formatProblems, type ConfigProblem } from '@sluice/shared/agent-config/validate';
import type { CreatePolicyBody, UpdatePolicyBody, PolicyView, RevisionSummary, RevisionView, ValidateResponse, DiffResponse } from '@sluice/shared/api/policies';
import { ConflictError, InputError, NotFoundError } from '@sluice/shared/errors';
import { canonicalJson } from '@sluice/shared/canonical-json';
import { diffConfigs } from '@sluice/shared/fleet/diff';
import { ACTIVE_ROLLOUT_STATES } from '@sluice/shared/fleet/rollout';
import { configHash } from '@sluice/shared/node/config-hash';
import { withTransaction } from '../db/transaction.ts';
import { recordAudit, type AuditActor } from '../operators/audit.ts';
import { choosePolicy, loadPolicies, reassignAgents } from './assignment.ts';
import { notifyFleet } from './fleet-events.ts';
import { referenceProblems, type SelectedAgent } from './publish-check.ts';

interface PolicyRow {
  name: string;
  description: string;
  selector: { labels?: Record<string, string> };
  priority: number;
  current_number: number | null;
  created_by: string;
  created_at: Date;
}

interface RevisionRow {
  id: string;
  policy: string;
  number: number;
  hash: string;
  message: string;
  created_by: string;
  created_at: Date;
  config?: PipelineConfig;
}

const POLICY_SELECT = `SELECT p.name, p.description, p.selector, p.priority, r.number AS current_number, p.created_by, p.created_at
  FROM policies p LEFT JOIN policy_revisions r ON r.id = p.current_revision_id`;

const policyView = (row: PolicyRow): PolicyView => ({
  name: row.name,
  description: row.description,
  selector: { labels: row.selector.labels ?? {} },
  priority: row.priority,
  currentRevision: row.current_number,
  createdBy: row.created_by,
  createdAt: row.created_at.toISOString(),
});

function revisionSummary(row: RevisionRow): RevisionSummary {
  return { id: Number(row.id), policy: row.policy, number: row.number, hash: row.hash, message: row.message, createdBy: row.created_by, createdAt: row.created_at.toISOString() };
}

export interface Caller {
  actor: AuditActor;
  requestId?: string | undefined;
}

const actorName = (actor: AuditActor): string => `${actor.kind}:${actor.name ?? actor.id}`;

export class PolicyStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(body: CreatePolicyBody, caller: Caller): Promise<PolicyView> {
    return withTransaction(this.#pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO policies (name, description, selector, priority, created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`,
        [body.name, body.description ?? '', JSON.stringify({ labels: body.selector?.labels ?? {} }), body.priority ?? 0, actorName(caller.actor)],
      );
      if (inserted.rowCount === 0) throw ConflictError(`policy ${body.name} exists already`);
      const view = await this.#get(client, body.name);
      await recordAudit(client, { actor: caller.actor, action: 'policy.create', target: { kind: 'policy', id: body.name }, after: view, requestId: caller.requestId });
      return view;
    });
  }

  /**
   * Replaces the fields given. A selector or priority change moves agents between policies: it is refused
   * while a rollout of the policy is active (its waves were planned over the agents selected at its start),
   * the current revision must pass the folder checks on every agent the policy then selects, and the agents
   * get their new desired revision in the same transaction.
   */
  async update(name: string, patch: UpdatePolicyBody, caller: Caller): Promise<PolicyView> {
    return withTransaction(this.#pool, async (client) => {
      const locked = await client.query<{ current_revision_id: string | null }>('SELECT current_revision_id FROM policies WHERE name = $1 FOR UPDATE', [name]);
      const row = locked.rows[0];
      if (!row) throw NotFoundError(`policy ${name} does not exist`);
      const before = await this.#get(client, name);
      const after: PolicyView = {
        ...before,
        ...(patch.description === undefined ? {} : { description: patch.description }),
        ...(patch.selector === undefined ? {} : { selector: { labels: patch.selector.labels } }),
        ...(patch.priority === undefined ? {} : { priority: patch.priority }),
      };
      const movesAgents = canonicalJson(after.selector) !== canonicalJson(before.selector) || after.priority !== before.priority;
      if (movesAgents) {
        const active = await client.query<{ id: string; state: string }>(`SELECT id, state FROM rollouts WHERE policy = $1 AND state = ANY($2::text[])`, [name, ACTIVE_ROLLOUT_STATES]);
        const rollout = active.rows[0];
        if (rollout) throw ConflictError(`policy ${name}: its selector and priority cannot change while rollout ${rollout.id} is ${rollout.state}; wait for it to finish or abort it`);
      }
      await client.query('UPDATE policies SET description = $2, selector = $3, priority = $4 WHERE name = $1', [name, after.description, JSON.stringify(after.selector), after.priority]);
      if (movesAgents && row.current_revision_id !== null) {
        const current = await client.query<{ number: number; config: PipelineConfig }>('SELECT number, config FROM policy_revisions WHERE id = $1', [row.current_revision_id]);
        const revision = current.rows[0] as { number: number; config: PipelineConfig };
        const datasets = new Set((await client.query<{ name: string }>('SELECT name FROM datasets')).rows.map((r) => r.name));
        const problems = referenceProblems(revision.config, datasets, await this.#selectedAgents(client, name));
        if (problems.length > 0) throw InputError(`policy ${name}: revision ${revision.number} does not fit the agents the new selector picks:\n${formatProblems(problems)}`, problems);
        await reassignAgents(client);
      }
      const fields = (view: PolicyView) => ({ description: view.description, selector: view.selector, priority: view.priority });
      await recordAudit(client, { actor: caller.actor, action: 'policy.update', target: { kind: 'policy', id: name }, before: fields(before), after: fields(after), requestId: caller.requestId });
      return after;
    });
  }

  async list(): Promise<PolicyView[]> {
    const found = await this.#pool.query<PolicyRow>(`${POLICY_SELECT} ORDER BY p.priority DESC, p.name`);
    return found.rows.map(policyView);
  }

  get(name: string): Promise<PolicyView> {
    return this.#get(this.#pool, name);
  }

  async #get(client: pg.ClientBase | pg.Pool, name: string): Promise<PolicyView> {
    const found = await client.query<PolicyRow>(`${POLICY_SELECT} WHERE p.name = $1`, [name]);
    const row = found.rows[0];
    if (!row) throw NotFoundError(`policy ${name} does not exist`);
    return policyView(row);
  }

  /** The checks of publish, without publishing: the defaulted config and its hash, or every problem. */
  async validate(name: string, config: unknown): Promise<ValidateResponse> {
    const checked = await this.#check(this.#pool, name, config);
    return checked.ok ? { ok: true, problems: [], hash: configHash(checked.value), config: checked.value } : { ok: false, problems: checked.problems };
  }

  async publish(name: string, body: { config: unknown; message?: string | undefined }, caller: Caller): Promise<RevisionView> {
    return withTransaction(this.#pool, async (client) => {
      // Serialises publishes of one policy, so revision numbers have no gaps and no duplicates.
      const locked = await client.query<{ current_revision_id: string | null }>('SELECT current_revision_id FROM policies WHERE name = $1 FOR UPDATE', [name]);
      const policy = locked.rows[0];
      if (!policy) throw NotFoundError(`policy ${name} does not exist`);
      const checked = await this.#check(client, name, body.config);
      if (!checked.ok) throw InputError(`revision of policy ${name} is invalid:\n${formatProblems(checked.problems)}`, checked.problems);
      const hash = configHash(checked.value);
      const inserted = await client.query<RevisionRow>(
        `INSERT INTO policy_revisions (policy, number, config, hash, message, created_by)
         SELECT $1, COALESCE(MAX(number), 0) + 1, $2, $3, $4, $5 FROM policy_revisions WHERE policy = $1
         RETURNING id, policy, number, hash, message, created_by, created_at`,
        [name, JSON.stringify(checked.value), hash, body.message ?? '', actorName(caller.actor)],
      );
      const row = inserted.rows[0] as RevisionRow;
      const view: RevisionView = { ...revisionSummary(row), config: checked.value };
      await recordAudit(client, { actor: caller.actor, action: 'policy.publish', target: { kind: 'policy', id: name }, after: { revision: row.number, hash, message: row.message }, requestId: caller.requestId });
      await notifyFleet(client, { kind: 'revision-published' });
      if (policy.current_revision_id === null) {
        await client.query('UPDATE policies SET current_revision_id = $2 WHERE name = $1', [name, row.id]);
        await reassignAgents(client);
      }
      return view;
    });
  }

  async revisions(name: string): Promise<RevisionSummary[]> {
    await this.get(name);
    const found = await this.#pool.query<RevisionRow>('SELECT id, policy, number, hash, message, created_by, created_at FROM policy_revisions WHERE policy = $1 ORDER BY number DESC', [name]);
    return found.rows.map(revisionSummary);
  }

  async revision(name: string, number: number, client: pg.ClientBase | pg.Pool = this.#pool): Promise<RevisionView> {
    const found = await client.query<RevisionRow & { config: PipelineConfig }>(
      'SELECT id, policy, number, hash, message, created_by, created_at, config FROM policy_revisions WHERE policy = $1 AND number = $2',
      [name, number],
    );
    const row = found.rows[0];
    if (!row) throw NotFoundError(`policy ${name} has no revision ${number}`);
    return { ...revisionSummary(row), config: row.config };
  }

  async diff(name: string, from: number, to: number): Promise<DiffResponse> {
    const [a, b] = await Promise.all([this.revision(name, from), this.revision(name, to)]);
    return { policy: name, from, to, changes: diffConfigs(a.config, b.config) };
  }

  async #check(client: pg.ClientBase | pg.Pool, name: string, config: unknown): Promise<{ ok: true; value: PipelineConfig } | { ok: false; problems: ConfigProblem[] }> {
    const result = validatePipeline(config);
    if (!result.ok) return result;
    const datasets = new Set((await client.query<{ name: string }>('SELECT name FROM datasets')).rows.map((r) => r.name));
    const problems = referenceProblems(result.value, datasets, await this.#selectedAgents(client, name));
    return problems.length > 0 ? { ok: false, problems } : result;
  }

  /** The active agents this policy wins once it has a revision (whether or not it has one yet). */
  async #selectedAgents(client: pg.ClientBase | pg.Pool, name: string): Promise<SelectedAgent[]> {
    const policies = (await loadPolicies(client as pg.ClientBase)).map((p) => (p.name === name ? { ...p, currentRevisionId: p.currentRevisionId ?? 0 } : p));
    const agents = await client.query<{ id: string; labels: Record<string, string>; allowed_roots: string[]; last_seen_at: Date | null }>(
      "SELECT id, labels, allowed_roots, last_seen_at FROM agents WHERE status = 'active'",
    );
    return agents.rows
      .filter((a) => choosePolicy(policies, a.labels)?.name === name)
      .map((a) => ({ id: a.id, allowedRoots: a.last_seen_at === null ? null : a.allowed_roots }));
  }
}
