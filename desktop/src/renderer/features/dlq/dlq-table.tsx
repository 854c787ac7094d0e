/** The entries of the filter, newest first, each one choosable for a dry run or replay, each linking to its detail. */
import type { DlqEntryView } from '../../api/dlq.ts';
import { hrefOf } from '../../app/router.ts';
import { ago, bytes } from '../../ui/format.ts';
import { REASONS } from './dlq-view.ts';

export function DlqTable({ entries, chosen, onToggle, onToggleAll, now }: { entries: readonly DlqEntryView[]; chosen: ReadonlySet<string>; onToggle: (id: string) => void; onToggleAll: (on: boolean) => void; now: number }) {
  const all = entries.length > 0 && entries.every((e) => chosen.has(e.id));
  return (
    <table className="data-table dlq-entries">
      <caption>Entries</caption>
      <thead>
        <tr>
          <th scope="col">
            <input type="checkbox" aria-label="Choose every entry shown" checked={all} onChange={(e) => onToggleAll(e.target.checked)} />
          </th>
          <th scope="col">Entry</th>
          <th scope="col">Dataset</th>
          <th scope="col">Record</th>
          <th scope="col">Reason</th>
          <th scope="col" className="num">
            Size
          </th>
          <th scope="col">Dead-lettered</th>
          <th scope="col">Replayed</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.id} data-entry={e.id} className={chosen.has(e.id) ? 'chosen' : undefined}>
            <td>
              <input type="checkbox" aria-label={`Choose entry ${e.id}`} checked={chosen.has(e.id)} onChange={() => onToggle(e.id)} />
            </td>
            <th scope="row">
              <a href={hrefOf.dlqEntry(e.id)}>#{e.id}</a>
            </th>
            <td>{e.dataset ?? '—'}</td>
            <td className="mono">{e.recordId ?? '—'}</td>
            <td className="reason">
              <span className={`badge badge-reason badge-${e.reasonKind}`}>{REASONS[e.reasonKind].label}</span> {e.reason}
            </td>
            <td className="num">{bytes(e.size)}</td>
            <td title={e.createdAt}>{ago(e.createdAt, now)}</td>
            <td title={e.replayedAt ?? undefined}>{e.replayedAt === null ? '—' : ago(e.replayedAt, now)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
