/** Agent detail: identity and config, sources, breakers, outbox, recent errors, check-in history. */
import { healthOf } from '../../api/agents.ts';
import { hrefOf } from '../../app/router.ts';
import { ago, bytes, duration, labelsText, shortHash } from '../../ui/format.ts';
import { ErrorState, Loading } from '../../ui/states.tsx';
import { StatusBadge } from '../../ui/status-badge.tsx';
import { attentionOf, policyOf, statusOf } from '../fleet/fleet-view.ts';
import { TimeChart } from '../../ui/time-chart.tsx';
import { checkinSeries, recentErrors } from './agent-view.ts';
import { BreakersTable, CheckinHistory, DatasetsTable, ErrorsList, SourcesTable } from './health-tables.tsx';
import { useAgent } from './use-agent.ts';

export function AgentPage({ agentId }: { agentId: string }) {
  const agent = useAgent(agentId);
  const now = Date.now();
  const back = (
    <a className="back" href={hrefOf.fleet()}>
      ← Fleet
    </a>
  );
  if (agent.data === undefined) {
    return (
      <section>
        {back}
        {agent.error === undefined ? <Loading what={`agent ${agentId}`} /> : <ErrorState error={agent.error} retry={agent.reload} />}
      </section>
    );
  }
  const a = agent.data;
  const health = healthOf(a.health);
  const attention = attentionOf(a);
  return (
    <section aria-labelledby="agent-title">
      {back}
      <header className="page-header">
        <h1 id="agent-title">
          {a.name} <StatusBadge status={statusOf(a)} />
        </h1>
        {attention.length > 0 && <p className="attention-note">Needs attention: {attention.join(', ')}</p>}
      </header>
      {agent.error !== undefined && <ErrorState error={agent.error} retry={agent.reload} />}
      <dl className="facts">
        <dt>Id</dt>
        <dd className="mono">{a.id}</dd>
        <dt>Host</dt>
        <dd>{a.hostname}</dd>
        <dt>Version</dt>
        <dd>{a.version}</dd>
        <dt>Last seen</dt>
        <dd title={a.lastSeenAt ?? undefined}>{ago(a.lastSeenAt, now)}</dd>
        <dt>Policy</dt>
        <dd>
          {policyOf(a)} {a.drift && <span className="drift">drifted: runs {shortHash(a.reportedHash)}, should run {shortHash(a.desired?.hash)}</span>}
        </dd>
        <dt>Apply state</dt>
        <dd>
          {a.applyState === null ? '—' : <StatusBadge status={a.applyState} />} {a.applyReason}
        </dd>
        <dt>Outbox</dt>
        <dd>{health ? `${String(health.outbox.rows)} rows, ${bytes(health.outbox.bytes)}, oldest ${duration(health.outbox.oldestAgeMs)}` : '—'}</dd>
        <dt>Labels</dt>
        <dd>{labelsText(a.labels) || '—'}</dd>
        <dt>Enrolled</dt>
        <dd>{new Date(a.enrolledAt).toLocaleString()}</dd>
      </dl>
      <h2>Recent errors</h2>
      <ErrorsList errors={recentErrors(a, health)} now={now} />
      <h2>Health</h2>
      {health ? (
        <>
          <SourcesTable health={health} now={now} />
          <DatasetsTable health={health} />
          <BreakersTable health={health} />
        </>
      ) : (
        <p className="sub">No health report yet: the agent has not checked in.</p>
      )}
      <h2>Throughput and outbox</h2>
      <AgentCharts checkins={a.checkins} />
      <h2>Check-ins</h2>
      <CheckinHistory checkins={a.checkins} />
    </section>
  );
}

function AgentCharts({ checkins }: { checkins: Parameters<typeof checkinSeries>[0] }) {
  const series = checkinSeries(checkins);
  if (series.x.length < 2) return <p className="sub">The charts fill in as the agent checks in.</p>;
  return (
    <div className="charts">
      <TimeChart title="Records shipped per minute" unit="records/min" x={series.x} series={[{ label: 'shipped', values: series.shippedPerMinute, colour: '#0b5cad' }]} marks={[]} />
      <TimeChart title="Outbox rows waiting" unit="rows" x={series.x} series={[{ label: 'outbox', values: series.outboxRows, colour: '#9a6700' }]} marks={[]} />
    </div>
  );
}
