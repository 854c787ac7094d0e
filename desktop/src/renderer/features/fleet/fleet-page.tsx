/** Fleet: every agent with its health at a glance, filter and search, CSV export of what is shown. */
import { useMemo, useState } from 'react';
import { plural } from '../../ui/format.ts';
import { Empty, ErrorState, Loading } from '../../ui/states.tsx';
import { AgentsTable } from './agents-table.tsx';
import { fleetCsv, filterAgents, NO_FILTER, type FleetFilter, type StatusFilter } from './fleet-view.ts';
import { useAgents } from './use-agents.ts';

export function FleetPage() {
  const agents = useAgents();
  const [filter, setFilter] = useState<FleetFilter>(NO_FILTER);
  const shown = useMemo(() => filterAgents(agents.data ?? [], filter), [agents.data, filter]);
  const now = Date.now();

  function exportCsv() {
    const url = URL.createObjectURL(new Blob([fleetCsv(shown)], { type: 'text/csv' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `sluice-agents-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.csv`;
    link.click();
    URL.revokeObjectURL(url);
  }

  return (
    <section aria-labelledby="fleet-title">
      <header className="page-header">
        <h1 id="fleet-title">Fleet</h1>
        <div className="toolbar" role="search">
          <label>
            Search
            <input type="search" placeholder="id, name, label, version…" value={filter.search} onChange={(e) => setFilter({ ...filter, search: e.target.value })} />
          </label>
          <label>
            Status
            <select value={filter.status} onChange={(e) => setFilter({ ...filter, status: e.target.value as StatusFilter })}>
              <option value="all">all</option>
              <option value="online">online</option>
              <option value="stale">stale</option>
              <option value="offline">offline</option>
              <option value="revoked">revoked</option>
            </select>
          </label>
          <label className="checkbox">
            <input type="checkbox" checked={filter.driftOnly} onChange={(e) => setFilter({ ...filter, driftOnly: e.target.checked })} />
            drifted only
          </label>
          <button type="button" onClick={exportCsv} disabled={shown.length === 0}>
            Export CSV
          </button>
        </div>
      </header>
      {agents.error !== undefined && <ErrorState error={agents.error} retry={agents.reload} />}
      {agents.data === undefined ? (
        agents.error === undefined && <Loading what="agents" />
      ) : agents.data.length === 0 ? (
        <Empty>
          <p>No agent has enrolled yet.</p>
          <p>Create an enrollment token (POST /api/v1/enrollment-tokens) and run `sluice-agent enroll` on a gateway.</p>
        </Empty>
      ) : shown.length === 0 ? (
        <Empty>
          <p>No agent matches the filter.</p>
          <button type="button" onClick={() => setFilter(NO_FILTER)}>
            Clear the filter
          </button>
        </Empty>
      ) : (
        <>
          <p className="count" aria-live="polite">
            {shown.length === agents.data.length ? plural(shown.length, 'agent') : `${String(shown.length)} of ${plural(agents.data.length, 'agent')}`}
          </p>
          <AgentsTable agents={shown} now={now} />
        </>
      )}
    </section>
  );
}
