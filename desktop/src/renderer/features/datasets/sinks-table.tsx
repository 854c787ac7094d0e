/** Where the dataset's records go, one row per store (a leaf: it gets the spec, it never fetches). */
import type { DatasetSpec } from '@sluice/shared/dataset';
import { sinkRows, STORE_NAMES } from './dataset-view.ts';

export function SinksTable({ spec }: { spec: DatasetSpec }) {
  return (
    <table className="data-table sinks-table">
      <caption className="visually-hidden">Stores</caption>
      <thead>
        <tr>
          <th scope="col">Store</th>
          <th scope="col">Loads</th>
          <th scope="col">Where</th>
          <th scope="col">How</th>
        </tr>
      </thead>
      <tbody>
        {sinkRows(spec).map((row) => (
          <tr key={row.store} className={row.enabled ? undefined : 'sink-off'}>
            <th scope="row">{STORE_NAMES[row.store]}</th>
            <td>{row.enabled ? 'yes' : 'no'}</td>
            <td className="mono">{row.location || '—'}</td>
            <td>{row.details || '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
