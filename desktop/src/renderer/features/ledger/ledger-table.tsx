/** Per dataset × agent: shipped, loaded per store, dead-lettered, in flight, missing; a pair opens its minutes. */
import { Fragment } from 'react';
import type { LedgerRow, LedgerStore } from '../../api/ledger.ts';
import { hrefOf } from '../../app/router.ts';
import { balanceOf, minutesOf, STORE_LABELS, type Balance, type LedgerPair } from './ledger-view.ts';

const BALANCE_WORDS: Record<Balance, string> = { missing: 'missing', 'in-flight': 'in flight', balanced: 'balanced', surplus: 'more loaded than shipped' };

function Figures({ row, stores }: { row: Pick<LedgerPair, 'shipped' | 'loaded' | 'loadedEverywhere' | 'deadLettered' | 'inFlight' | 'missing' | 'missingIn'>; stores: readonly LedgerStore[] }) {
  return (
    <>
      <td className="num">{row.shipped}</td>
      {stores.map((s) => (
        <td key={s} className={`num${row.missingIn.includes(s) ? ' short' : ''}`}>
          {row.loaded[s] ?? '—'}
        </td>
      ))}
      <td className="num">{row.deadLettered}</td>
      <td className="num">{row.inFlight}</td>
      <td className={`num${row.missing > 0 ? ' short' : ''}`} data-figure="missing">
        {row.missing}
        {row.missingIn.length > 0 && <span className="sub"> in {row.missingIn.map((s) => STORE_LABELS[s]).join(', ')}</span>}
      </td>
    </>
  );
}

export function LedgerTable({ pairs, rows, stores, open, onOpen }: { pairs: readonly LedgerPair[]; rows: readonly LedgerRow[]; stores: readonly LedgerStore[]; open: string | undefined; onOpen: (key: string | undefined) => void }) {
  return (
    <table className="data-table ledger-table">
      <caption>Per dataset and agent</caption>
      <thead>
        <tr>
          <th scope="col">Dataset</th>
          <th scope="col">Agent</th>
          <th scope="col">Balance</th>
          <th scope="col" className="num">
            Shipped
          </th>
          {stores.map((s) => (
            <th key={s} scope="col" className="num">
              {STORE_LABELS[s]}
            </th>
          ))}
          <th scope="col" className="num">
            Dead-lettered
          </th>
          <th scope="col" className="num">
            In flight
          </th>
          <th scope="col" className="num">
            Missing
          </th>
        </tr>
      </thead>
      <tbody>
        {pairs.map((p) => {
          const key = `${p.dataset}/${p.agentId}`;
          const isOpen = open === key;
          return (
            <Fragment key={key}>
              <tr className={`balance-${p.balance}`} data-pair={key}>
                <th scope="row">{p.dataset}</th>
                <td>
                  <a href={hrefOf.agent(p.agentId)}>{p.agentId}</a>
                  <div>
                    <button type="button" className="link-button" aria-expanded={isOpen} onClick={() => onOpen(isOpen ? undefined : key)}>
                      {isOpen ? 'hide' : 'show'} {p.minutes} {p.minutes === 1 ? 'minute' : 'minutes'}
                    </button>
                  </div>
                </td>
                <td>
                  <span className={`badge badge-balance-${p.balance}`}>{BALANCE_WORDS[p.balance]}</span>
                </td>
                <Figures row={p} stores={stores} />
              </tr>
              {isOpen &&
                minutesOf(rows, p.dataset, p.agentId).map((m) => (
                  <tr key={`${key}/${m.minute}`} className={`minute balance-${balanceOf(m)}`}>
                    <td colSpan={2} className="minute-time" title={m.minute}>
                      {new Date(m.minute).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })} {m.settled ? '' : <span className="sub">(settling)</span>}
                    </td>
                    <td>{BALANCE_WORDS[balanceOf(m)]}</td>
                    <Figures row={m} stores={stores} />
                  </tr>
                ))}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}
