/**
 * The dead-letter queue: filter, counts by reason, the entries (choose some), then a dry run against a
 * schema version and a replay of the chosen entries or of the whole filter.
 */
import { useMemo, useState } from 'react';
import { REASON_KINDS, type ReasonKind } from '../../api/dlq.ts';
import { useClient } from '../../app/client-context.ts';
import { OptionSelect } from '../../ui/option-select.tsx';
import { Empty, ErrorState, Loading } from '../../ui/states.tsx';
import { useDatasets } from '../datasets/use-datasets.ts';
import { DlqCounts } from './dlq-counts.tsx';
import { apiFilter, countsFilter, NO_FILTER, PERIODS, withPeriod, type DlqScreenFilter } from './dlq-filter.ts';
import { DlqTable } from './dlq-table.tsx';
import { entryCount, REASONS } from './dlq-view.ts';
import { ReplayPanel } from './replay-panel.tsx';
import { MAX_SHOWN, PAGE_SIZE, useDlqCounts, useDlqEntries } from './use-dlq.ts';
import './dlq.css';

const REASON_OPTIONS: ReadonlyArray<readonly [ReasonKind | '', string]> = [['', 'every reason'], ...REASON_KINDS.map((kind) => [kind, REASONS[kind].label] as const)];

export function DlqPage() {
  const client = useClient();
  const [filter, setFilterState] = useState<DlqScreenFilter>(NO_FILTER);
  const [pages, setPages] = useState(1);
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  const query = useMemo(() => apiFilter(filter), [filter]);
  const entries = useDlqEntries(query, pages);
  const counts = useDlqCounts(useMemo(() => countsFilter(filter), [filter]));
  const datasets = useDatasets();
  const now = Date.now();
  const role = client.user?.role;
  const items = entries.data?.items ?? [];
  const chosenEntries = items.filter((e) => chosen.has(e.id));

  function setFilter(next: DlqScreenFilter) {
    setFilterState(next);
    setPages(1);
    setChosen(new Set());
  }

  function toggle(id: string) {
    const next = new Set(chosen);
    if (!next.delete(id)) next.add(id);
    setChosen(next);
  }

  function replayed() {
    setChosen(new Set());
    entries.reload();
    counts.reload();
  }

  return (
    <section aria-labelledby="dlq-title" className="dlq-page">
      <header className="page-header">
        <h1 id="dlq-title">Dead-letter queue</h1>
        <div className="toolbar" role="search">
          <OptionSelect label="Dataset" value={filter.dataset} options={[['', 'every dataset'], ...(datasets.data ?? []).map((d) => [d.spec.name, d.spec.name] as const)]} onChange={(dataset) => setFilter({ ...filter, dataset })} />
          <OptionSelect<ReasonKind | ''> label="Reason" value={filter.reasonKind} options={REASON_OPTIONS} onChange={(reasonKind) => setFilter({ ...filter, reasonKind })} />
          <OptionSelect label="Dead-lettered" value={filter.period} options={PERIODS} onChange={(period) => setFilter(withPeriod(filter, period, Date.now()))} />
          <label className="checkbox">
            <input type="checkbox" checked={filter.waitingOnly} onChange={(e) => setFilter({ ...filter, waitingOnly: e.target.checked })} />
            never replayed only
          </label>
        </div>
      </header>
      {counts.error !== undefined && <ErrorState error={counts.error} retry={counts.reload} />}
      {counts.data && counts.data.total > 0 && <DlqCounts counts={counts.data} chosen={filter.reasonKind} onChoose={(reasonKind) => setFilter({ ...filter, reasonKind })} now={now} />}
      {entries.error !== undefined && <ErrorState error={entries.error} retry={entries.reload} />}
      {entries.data === undefined ? (
        entries.error === undefined && <Loading what="dead-lettered records" />
      ) : (
        <>
          {/* Shown with an empty list too: a replay's result stays in view after its entries left the filter. */}
          <ReplayPanel filter={filter} chosen={chosenEntries} matched={entries.data.total} datasets={datasets.data ?? []} canOperate={role === 'operator' || role === 'admin'} onReplayed={replayed} />
          {entries.data.total === 0 ? (
            <Empty>
              <p>No dead-lettered record matches the filter.</p>
              {filter !== NO_FILTER && (
                <button type="button" onClick={() => setFilter(NO_FILTER)}>
                  Clear the filter
                </button>
              )}
            </Empty>
          ) : (
            <>
              <p className="count" aria-live="polite">
                {items.length === entries.data.total ? entryCount(items.length) : `Newest ${String(items.length)} of ${entryCount(entries.data.total)}`}
                {chosen.size > 0 && `, ${String(chosenEntries.length)} chosen`}
              </p>
              <DlqTable entries={items} chosen={chosen} onToggle={toggle} onToggleAll={(on) => setChosen(new Set(on ? items.map((e) => e.id) : []))} now={now} />
              {items.length < entries.data.total &&
                (items.length < MAX_SHOWN ? (
                  <button type="button" className="secondary" onClick={() => setPages(pages + 1)} disabled={entries.loading}>
                    Show {Math.min(PAGE_SIZE, entries.data.total - items.length)} older
                  </button>
                ) : (
                  <p className="sub">The newest {MAX_SHOWN} are shown; narrow the filter to see others (a replay of the filter covers them all).</p>
                ))}
            </>
          )}
        </>
      )}
    </section>
  );
}
