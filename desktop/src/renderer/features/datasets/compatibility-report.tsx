/**
 * The compatibility report of a proposed version against the latest one: one row per changed field, the
 * changes that break compatibility marked (a leaf: it gets the report, it never fetches).
 */
import type { VersionCheckResponse } from '../../api/datasets.ts';
import { StatusBadge } from '../../ui/status-badge.tsx';

export function CompatibilityReport({ check }: { check: VersionCheckResponse }) {
  const { compatible, changes } = check.compatibility;
  const breaking = changes.filter((c) => !c.compatible).length;
  return (
    <div className={`compat-report ${compatible ? 'compat-ok' : 'compat-bad'}`} role="status" aria-label="Compatibility report">
      <p className="compat-verdict">
        <StatusBadge status={compatible ? 'compatible' : 'incompatible'} /> As version {check.version}, against version {check.latestVersion}:{' '}
        {changes.length === 0
          ? 'no field changes.'
          : compatible
            ? 'every change is compatible; records written before still match.'
            : `${String(breaking)} of ${String(changes.length)} changes break compatibility.`}
      </p>
      {changes.length > 0 && (
        <table className="data-table compat-table">
          <caption className="visually-hidden">Changes</caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Change</th>
              <th scope="col">Compatible</th>
              <th scope="col">What changed</th>
            </tr>
          </thead>
          <tbody>
            {changes.map((c) => (
              <tr key={`${c.type} ${c.path}`} className={c.compatible ? undefined : 'compat-breaking'}>
                <th scope="row" className="mono">
                  {c.path}
                </th>
                <td className="mono">{c.type}</td>
                <td>{c.compatible ? 'yes' : 'no'}</td>
                <td>{c.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
