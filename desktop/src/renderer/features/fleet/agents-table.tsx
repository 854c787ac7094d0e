/** The agents table (a leaf: it gets the rows, it never fetches). Each agent id links to its detail. */
import type { AgentSummary } from '../../api/agents.ts';
import { hrefOf } from '../../app/router.ts';
import { ago, labelsText, shortHash } from '../../ui/format.ts';
import { StatusBadge } from '../../ui/status-badge.tsx';
import { attentionOf, outboxOf, policyOf, statusOf } from './fleet-view.ts';

export function AgentsTable({ agents, now }: { agents: readonly AgentSummary[]; now: number }) {
  return (
    <table className="data-table agents-table">
      <caption className="visually-hidden">Agents</caption>
      <thead>
        <tr>
          <th scope="col">Agent</th>
          <th scope="col">Status</th>
          <th scope="col">Last seen</th>
          <th scope="col">Version</th>
          <th scope="col">Policy</th>
          <th scope="col">Apply state</th>
          <th scope="col">Outbox</th>
          <th scope="col">Labels</th>
        </tr>
      </thead>
      <tbody>
        {agents.map((agent) => {
          const attention = attentionOf(agent);
          return (
            <tr key={agent.id} data-agent={agent.id} className={attention.map((a) => `attention-${a}`).join(' ')}>
              <th scope="row">
                <a href={hrefOf.agent(agent.id)}>{agent.name}</a>
                <div className="sub">{agent.id}</div>
              </th>
              <td>
                <StatusBadge status={statusOf(agent)} />
              </td>
              <td title={agent.lastSeenAt ?? undefined}>{ago(agent.lastSeenAt, now)}</td>
              <td>{agent.version}</td>
              <td>
                {policyOf(agent)}
                {agent.drift && (
                  <div className="sub drift" title={`runs ${shortHash(agent.reportedHash)}, should run ${shortHash(agent.desired?.hash)}`}>
                    drifted
                  </div>
                )}
              </td>
              <td>
                {agent.applyState === null ? '—' : <StatusBadge status={agent.applyState} />}
                {agent.applyReason && <div className="sub">{agent.applyReason}</div>}
              </td>
              <OutboxCell agent={agent} />
              <td className="labels">{labelsText(agent.labels) || '—'}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function OutboxCell({ agent }: { agent: AgentSummary }) {
  const { depth, age } = outboxOf(agent);
  return (
    <td className="outbox" title={agent.outbox ? 'as of the last check-in' : undefined}>
      {depth}
      {age && <div className="sub">{age}</div>}
    </td>
  );
}
