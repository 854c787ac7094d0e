/** A config diff, one row per changed path (a leaf: it gets the changes, it never fetches). */
import type { DiffResponse } from '../../api/policies.ts';
import { Empty } from '../../ui/states.tsx';

/** A change of GET …/diff, or of diffConfigs in the browser (the same shape). */
export type PathChange = DiffResponse['changes'][number];

const shown = (value: unknown): string => (value === undefined ? '' : JSON.stringify(value, null, 1));

export function DiffView({ changes, caption }: { changes: readonly PathChange[]; caption: string }) {
  if (changes.length === 0) return <Empty>No difference: {caption} are the same.</Empty>;
  return (
    <table className="data-table diff-table">
      <caption>
        {caption}: {changes.length === 1 ? '1 change' : `${String(changes.length)} changes`}
      </caption>
      <thead>
        <tr>
          <th scope="col">Change</th>
          <th scope="col">Path</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((change) => (
          <tr key={`${change.op} ${change.path}`} className={`diff-${change.op}`}>
            <td>{change.op}</td>
            <th scope="row" className="mono">
              {change.path}
            </th>
            <td className="mono diff-before">{change.op === 'added' ? '' : shown(change.before)}</td>
            <td className="mono diff-after">{change.op === 'removed' ? '' : shown(change.after)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
