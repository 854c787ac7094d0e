/** The analytics screen's tables, leaves: the current minute's counters and the anomalies list. */
import type { AnomalyItem, CountersResponse } from '../../api/analytics.ts';
import { StatusBadge } from '../../ui/status-badge.tsx';
import { describeSeries, fieldName, figureText, groupLabel } from './analytics-view.ts';

/** Groups shown per aggregation: the busiest ones. */
const COUNTER_ROWS = 8;

export function CountersTable({ counters }: { counters: CountersResponse }) {
  const rows = counters.aggregations.flatMap((a) =>
    [...a.groups]
      .sort((x, y) => y.count - x.count)
      .slice(0, COUNTER_ROWS)
      .map((g) => ({ aggregation: a.aggregation, group: groupLabel(g.group), window: g })),
  );
  const minute = new Date(counters.minute).toISOString().slice(11, 16);
  if (rows.length === 0)
    return <p className="sub">Nothing has arrived in the current minute ({minute} UTC) yet.</p>;
  return (
    <table className="data-table" aria-label="Current minute">
      <caption className="sub">
        The current minute, {minute} UTC, as its records arrive (the busiest groups of each aggregation)
      </caption>
      <thead>
        <tr>
          <th scope="col">Aggregation</th>
          <th scope="col">Group</th>
          <th scope="col" className="num">
            Records
          </th>
          <th scope="col">Measures (avg)</th>
          <th scope="col">Distinct</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.aggregation}/${r.group}`} data-counter={`${r.aggregation}/${r.group}`}>
            <td>{r.aggregation}</td>
            <td>{r.group}</td>
            <td className="num">{figureText(r.window.count)}</td>
            <td>
              {Object.entries(r.window.measures)
                .map(([field, m]) => `${fieldName(field)} ${figureText(m.avg)}`)
                .join(', ') || '—'}
            </td>
            <td>
              {Object.entries(r.window.distinct)
                .map(([field, n]) => `${fieldName(field)} ${figureText(n)}`)
                .join(', ') || '—'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const time = (iso: string | null): string =>
  iso === null ? '—' : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;

export function AnomaliesTable({ items }: { items: readonly AnomalyItem[] }) {
  return (
    <table className="data-table" aria-label="Anomalies">
      <thead>
        <tr>
          <th scope="col">State</th>
          <th scope="col">Series</th>
          <th scope="col">Direction</th>
          <th scope="col">Window (UTC)</th>
          <th scope="col" className="num">
            Observed
          </th>
          <th scope="col" className="num">
            Expected
          </th>
          <th scope="col">Band</th>
          <th scope="col" className="num">
            Score
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((a) => (
          <tr key={`${a.series}@${a.windowStart}`} data-anomaly={a.series}>
            <td>
              <StatusBadge status={a.state} />
            </td>
            <td>{describeSeries(a)}</td>
            <td>{a.direction}</td>
            <td>
              {time(a.windowStart)} – {a.windowEnd.slice(11, 16)}
            </td>
            <td className="num">{figureText(a.observed)}</td>
            <td className="num">{figureText(a.expected)}</td>
            <td>
              {figureText(a.bandLow)} – {figureText(a.bandHigh)}
            </td>
            <td className="num">{figureText(a.score)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
