/** Counts by reason kind, largest first: a mass failure is one big row. Choosing a kind filters the list by it. */
import type { DlqCountsResponse, ReasonKind } from '../../api/dlq.ts';
import { ago } from '../../ui/format.ts';
import { REASONS } from './dlq-view.ts';

export function DlqCounts({ counts, chosen, onChoose, now }: { counts: DlqCountsResponse; chosen: ReasonKind | ''; onChoose: (kind: ReasonKind | '') => void; now: number }) {
  return (
    <table className="data-table dlq-counts">
      <caption>By reason ({String(counts.total)} in all)</caption>
      <thead>
        <tr>
          <th scope="col">Reason</th>
          <th scope="col" className="num">
            Entries
          </th>
          <th scope="col" className="num">
            Never replayed
          </th>
          <th scope="col">Datasets</th>
          <th scope="col">Latest</th>
        </tr>
      </thead>
      <tbody>
        {counts.byReasonKind.map((k) => (
          <tr key={k.reasonKind} className={k.reasonKind === chosen ? 'chosen' : undefined}>
            <th scope="row">
              <button type="button" className="link-button" aria-pressed={k.reasonKind === chosen} onClick={() => onChoose(k.reasonKind === chosen ? '' : k.reasonKind)}>
                {REASONS[k.reasonKind].label}
              </button>
              <div className="sub">{REASONS[k.reasonKind].fix}</div>
            </th>
            <td className="num">{k.count}</td>
            <td className="num">{k.notReplayed}</td>
            <td>{k.datasets.map((d) => `${d.dataset ?? '(none)'} ${String(d.count)}`).join(', ')}</td>
            <td>
              <span title={k.lastAt}>{ago(k.lastAt, now)}</span>
              <div className="sub reason-example">{k.example}</div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
