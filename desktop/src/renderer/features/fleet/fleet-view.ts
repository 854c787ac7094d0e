/**
 * What the fleet table shows, as pure functions of the agent list: the filter and search, what needs an
 * operator's eye (stale, offline, drifted, a failed apply), and the CSV export of exactly what is shown.
 */
import type { AgentSummary } from '../../api/agents.ts';
import { bytes, duration, labelsText } from '../../ui/format.ts';

export type StatusFilter = 'all' | 'online' | 'stale' | 'offline' | 'revoked';

export interface FleetFilter {
  search: string;
  status: StatusFilter;
  driftOnly: boolean;
}

export const NO_FILTER: FleetFilter = { search: '', status: 'all', driftOnly: false };

/** online / stale / offline for active agents, `revoked` for revoked ones. */
export function statusOf(agent: AgentSummary): Exclude<StatusFilter, 'all'> {
  return agent.status === 'revoked' ? 'revoked' : agent.connectivity;
}

export function policyOf(agent: AgentSummary): string {
  return agent.desired === null ? '—' : `${agent.desired.revision.policy} #${String(agent.desired.revision.number)}`;
}

/**
 * The outbox column: what waits at the edge (depth in rows and bytes) and how long its oldest row had waited,
 * as of the agent's last check-in; `—` before the first.
 */
export function outboxOf(agent: AgentSummary): { depth: string; age: string } {
  if (agent.outbox === null) return { depth: '—', age: '' };
  if (agent.outbox.rows === 0) return { depth: 'empty', age: '' };
  const { rows, oldestAgeMs } = agent.outbox;
  return { depth: `${rows.toLocaleString('en')} ${rows === 1 ? 'row' : 'rows'}, ${bytes(agent.outbox.bytes)}`, age: oldestAgeMs === null ? '' : `oldest ${duration(oldestAgeMs)}` };
}

/** Why a row stands out, most urgent first; empty when nothing does. */
export function attentionOf(agent: AgentSummary): Array<'offline' | 'stale' | 'failed' | 'drift'> {
  if (agent.status === 'revoked') return [];
  const reasons: Array<'offline' | 'stale' | 'failed' | 'drift'> = [];
  if (agent.connectivity === 'offline') reasons.push('offline');
  if (agent.connectivity === 'stale') reasons.push('stale');
  if (agent.applyState === 'failed' || agent.applyState === 'rolled-back') reasons.push('failed');
  if (agent.drift) reasons.push('drift');
  return reasons;
}

/** Search matches id, name, hostname, version, policy and labels (`site=berlin`), case-insensitively, every word. */
export function filterAgents(agents: readonly AgentSummary[], filter: FleetFilter): AgentSummary[] {
  const words = filter.search.toLowerCase().split(/\s+/).filter(Boolean);
  return agents.filter((agent) => {
    if (filter.status !== 'all' && statusOf(agent) !== filter.status) return false;
    if (filter.driftOnly && !agent.drift) return false;
    const haystack = [agent.id, agent.name, agent.hostname, agent.version, policyOf(agent), labelsText(agent.labels)].join(' ').toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

const CSV_COLUMNS: Array<[string, (a: AgentSummary) => string]> = [
  ['id', (a) => a.id],
  ['name', (a) => a.name],
  ['status', (a) => statusOf(a)],
  ['lastSeenAt', (a) => a.lastSeenAt ?? ''],
  ['version', (a) => a.version],
  ['policy', (a) => a.desired?.revision.policy ?? ''],
  ['revision', (a) => (a.desired === null ? '' : String(a.desired.revision.number))],
  ['applyState', (a) => a.applyState ?? ''],
  ['drift', (a) => String(a.drift)],
  ['outboxRows', (a) => String(a.outbox?.rows ?? '')],
  ['outboxOldestAgeMs', (a) => String(a.outbox?.oldestAgeMs ?? '')],
  ['labels', (a) => labelsText(a.labels)],
  ['hostname', (a) => a.hostname],
];

/**
 * RFC 4180 quoting; a cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading
 * apostrophe, since agent names and labels come from the field.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function fleetCsv(agents: readonly AgentSummary[]): string {
  const lines = [CSV_COLUMNS.map(([name]) => name).join(',')];
  for (const agent of agents) lines.push(CSV_COLUMNS.map(([, cell]) => csvCell(cell(agent))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
