/**
 * The ledger: per dataset × agent over a recent range, what the agents shipped against what each store
 * holds and what was dead-lettered; what is missing stands out, and a pair opens its minutes.
 */
import { useMemo, useState } from 'react';
import { LEDGER_MAX_RANGE_HOURS } from '../../api/ledger.ts';
import { OptionSelect } from '../../ui/option-select.tsx';
import { Empty, ErrorState, Loading } from '../../ui/states.tsx';
import { useDatasets } from '../datasets/use-datasets.ts';
import { useAgents } from '../fleet/use-agents.ts';
import { LedgerTable } from './ledger-table.tsx';
import { ledgerPairs, storesOf, STORE_LABELS } from './ledger-view.ts';
import { useLedger } from './use-ledger.ts';
import './ledger.css';

const WINDOWS: ReadonlyArray<readonly [string, string]> = [
  ['15', 'last 15 minutes'],
  ['60', 'last hour'],
  ['360', 'last 6 hours'],
  [String(LEDGER_MAX_RANGE_HOURS * 60), 'last 24 hours'],
];

export function LedgerPage() {
  const [minutes, setMinutes] = useState(60);
  const [dataset, setDataset] = useState('');
  const [agent, setAgent] = useState('');
  const [unbalancedOnly, setUnbalancedOnly] = useState(false);
  const [open, setOpen] = useState<string | undefined>(undefined);
  const ledger = useLedger(minutes, dataset, agent);
  const datasets = useDatasets();
  const agents = useAgents();
  const rows = useMemo(() => ledger.data?.rows ?? [], [ledger.data]);
  const pairs = useMemo(() => ledgerPairs(rows), [rows]);
  const shown = unbalancedOnly ? pairs.filter((p) => p.balance === 'missing' || p.balance === 'in-flight') : pairs;
  const totals = ledger.data?.totals;

  return (
    <section aria-labelledby="ledger-title">
      <header className="page-header">
        <h1 id="ledger-title">Ledger</h1>
        <div className="toolbar" role="search">
          <OptionSelect label="Range" value={String(minutes)} options={WINDOWS} onChange={(value) => setMinutes(Number(value))} />
          <OptionSelect label="Dataset" value={dataset} options={[['', 'every dataset'], ...(datasets.data ?? []).map((d) => [d.spec.name, d.spec.name] as const)]} onChange={setDataset} />
          <OptionSelect label="Agent" value={agent} options={[['', 'every agent'], ...(agents.data ?? []).map((a) => [a.id, `${a.name} (${a.id})`] as const)]} onChange={setAgent} />
          <label className="checkbox">
            <input type="checkbox" checked={unbalancedOnly} onChange={(e) => setUnbalancedOnly(e.target.checked)} />
            only what does not balance
          </label>
        </div>
      </header>
      {ledger.error !== undefined && <ErrorState error={ledger.error} retry={ledger.reload} />}
      {ledger.data?.uncounted.map((u) => (
        <p key={`${u.dataset}/${u.store}`} className="notice">
          {STORE_LABELS[u.store]} of {u.dataset} could not be counted: {u.reason}
        </p>
      ))}
      {totals && (
        <dl className="ledger-totals" aria-label="Totals">
          <div>
            <dt>Shipped</dt>
            <dd>{totals.shipped}</dd>
          </div>
          <div>
            <dt>Loaded everywhere</dt>
            <dd>{totals.loadedEverywhere}</dd>
          </div>
          <div>
            <dt>Dead-lettered</dt>
            <dd>{totals.deadLettered}</dd>
          </div>
          <div>
            <dt>In flight</dt>
            <dd>{totals.inFlight}</dd>
          </div>
          <div className={`total-missing${totals.missing > 0 ? ' short' : ''}`}>
            <dt>Missing</dt>
            <dd data-figure="missing">{totals.missing}</dd>
          </div>
        </dl>
      )}
      {ledger.data === undefined ? (
        ledger.error === undefined && <Loading what="the ledger" />
      ) : pairs.length === 0 ? (
        <Empty>Nothing was shipped or loaded in this range.</Empty>
      ) : shown.length === 0 ? (
        <Empty>Everything balances: every record shipped is loaded in every store or dead-lettered.</Empty>
      ) : (
        <>
          <LedgerTable pairs={shown} rows={rows} stores={storesOf(rows)} open={open} onOpen={setOpen} />
          <p className="sub">
            A minute settles {ledger.data.settleSeconds} s after it ends: until then what is not accounted for is in flight, after it missing. Minutes are of the records&apos; ingest
            time at the edge.
          </p>
        </>
      )}
    </section>
  );
}
