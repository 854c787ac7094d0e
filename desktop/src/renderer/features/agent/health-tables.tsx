/** The agent page's tables (leaves: they get data as props). */
import type { CheckinHealth } from '@sluice/shared/fleet/checkin';
import type { AgentDetail } from '../../api/agents.ts';
import { healthOf } from '../../api/agents.ts';
import { ago, shortHash } from '../../ui/format.ts';
import { Empty } from '../../ui/states.tsx';
import { StatusBadge } from '../../ui/status-badge.tsx';
import type { RecentError } from './agent-view.ts';

export function SourcesTable({ health, now }: { health: CheckinHealth; now: number }) {
  if (health.sources.length === 0) return <Empty>The agent runs no source.</Empty>;
  return (
    <table className="data-table">
      <caption>Sources</caption>
      <thead>
        <tr>
          <th scope="col">Source</th>
          <th scope="col">Type</th>
          <th scope="col">Dataset</th>
          <th scope="col">State</th>
          <th scope="col">Position</th>
          <th scope="col">Last error</th>
        </tr>
      </thead>
      <tbody>
        {health.sources.map((s) => (
          <tr key={s.id} className={s.lastError ? 'attention-failed' : ''}>
            <th scope="row">{s.id}</th>
            <td>{s.type}</td>
            <td>{s.dataset}</td>
            <td>
              <StatusBadge status={s.state} />
            </td>
            <td className="mono">{s.position ?? '—'}</td>
            <td>{s.lastError ? `${s.lastError.message} (${ago(s.lastError.at, now)})` : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DatasetsTable({ health }: { health: CheckinHealth }) {
  if (health.datasets.length === 0) return null;
  return (
    <table className="data-table">
      <caption>Records since the agent started</caption>
      <thead>
        <tr>
          <th scope="col">Dataset</th>
          <th scope="col">Read</th>
          <th scope="col">Committed</th>
          <th scope="col">Shipped</th>
        </tr>
      </thead>
      <tbody>
        {health.datasets.map((d) => (
          <tr key={d.dataset}>
            <th scope="row">{d.dataset}</th>
            <td className="num">{d.read}</td>
            <td className="num">{d.committed}</td>
            <td className="num">{d.shipped}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function BreakersTable({ health }: { health: CheckinHealth }) {
  if (health.breakers.length === 0) return <p className="sub">No circuit breakers (no HTTP sources).</p>;
  return (
    <table className="data-table">
      <caption>Circuit breakers</caption>
      <thead>
        <tr>
          <th scope="col">Source</th>
          <th scope="col">Endpoint</th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        {health.breakers.map((b) => (
          <tr key={`${b.source} ${b.endpoint}`} className={b.state === 'closed' ? '' : 'attention-failed'}>
            <th scope="row">{b.source}</th>
            <td className="mono">{b.endpoint}</td>
            <td>
              <StatusBadge status={b.state} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ErrorsList({ errors, now }: { errors: readonly RecentError[]; now: number }) {
  if (errors.length === 0) return <p className="sub">No recent errors.</p>;
  return (
    <ul className="errors">
      {errors.map((e, i) => (
        <li key={`${e.where} ${String(i)}`}>
          <strong>{e.where}</strong> {e.at && <span className="sub">{ago(e.at, now)}</span>}
          <div>{e.message}</div>
        </li>
      ))}
    </ul>
  );
}

export function CheckinHistory({ checkins }: { checkins: AgentDetail['checkins'] }) {
  if (checkins.length === 0) return <Empty>No check-in yet.</Empty>;
  return (
    <table className="data-table">
      <caption>Check-in history (newest first)</caption>
      <thead>
        <tr>
          <th scope="col">At</th>
          <th scope="col">Config</th>
          <th scope="col">Apply state</th>
          <th scope="col">Outbox rows</th>
        </tr>
      </thead>
      <tbody>
        {checkins.map((c) => (
          <tr key={c.at}>
            <th scope="row">{new Date(c.at).toLocaleString()}</th>
            <td className="mono">{shortHash(c.configHash)}</td>
            <td>{c.applyState === null ? '—' : <StatusBadge status={c.applyState} />}</td>
            <td className="num">{healthOf(c.health)?.outbox.rows ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
