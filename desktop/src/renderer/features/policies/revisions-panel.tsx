/**
 * A policy's revisions, the path-by-path diff of any two of them (GET …/diff), and for an operator a way back
 * to an earlier one at once.
 */
import { useState } from 'react';
import { diffRevisions, type DiffResponse, type RevisionSummary } from '../../api/policies.ts';
import { useClient } from '../../app/client-context.ts';
import { ago, shortHash } from '../../ui/format.ts';
import { Empty, ErrorState } from '../../ui/states.tsx';
import { DiffView } from './diff-view.tsx';
import { MakeCurrent } from './make-current.tsx';

export interface RevisionsPanelProps {
  policy: string;
  revisions: readonly RevisionSummary[];
  current: number | null;
  /** Offers "Make current" on earlier revisions (operators); called once one became current. */
  onMadeCurrent: (() => void) | undefined;
}

export function RevisionsPanel({ policy, revisions, current, onMadeCurrent }: RevisionsPanelProps) {
  const client = useClient();
  const newest = revisions[0]?.number ?? 0;
  const [from, setFrom] = useState(Math.max(1, newest - 1));
  const [to, setTo] = useState(newest);
  const [diff, setDiff] = useState<{ result?: DiffResponse; error?: unknown }>({});
  if (revisions.length === 0) return <Empty>No revision yet: write the pipeline below and publish the first one.</Empty>;
  const now = Date.now();

  async function compare() {
    try {
      setDiff({ result: await diffRevisions(client, policy, from, to) });
    } catch (error) {
      setDiff({ error });
    }
  }
  const choose = (value: number, set: (n: number) => void, label: string) => (
    <label>
      {label}
      <select value={value} onChange={(e) => set(Number(e.target.value))}>
        {revisions.map((r) => (
          <option key={r.number} value={r.number}>
            {r.number}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <div className="revisions">
      <table className="data-table revisions-table">
        <caption>Revisions</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Message</th>
            <th scope="col">Hash</th>
            <th scope="col">By</th>
            <th scope="col">Published</th>
            {onMadeCurrent && <th scope="col">Go back</th>}
          </tr>
        </thead>
        <tbody>
          {revisions.map((r) => (
            <tr key={r.number} data-revision={r.number}>
              <th scope="row">
                {r.number}
                {r.number === current && <span className="badge badge-applied">current</span>}
              </th>
              <td>{r.message}</td>
              <td className="mono">{shortHash(r.hash)}</td>
              <td>{r.createdBy}</td>
              <td title={r.createdAt}>{ago(r.createdAt, now)}</td>
              {onMadeCurrent && <td>{current !== null && r.number < current && <MakeCurrent policy={policy} revision={r.number} onDone={onMadeCurrent} />}</td>}
            </tr>
          ))}
        </tbody>
      </table>
      {revisions.length > 1 && (
        <div className="toolbar">
          {choose(from, setFrom, 'From revision')}
          {choose(to, setTo, 'To revision')}
          <button type="button" onClick={() => void compare()}>
            Compare
          </button>
        </div>
      )}
      {diff.error !== undefined && <ErrorState error={diff.error} />}
      {diff.result && <DiffView changes={diff.result.changes} caption={`revision ${String(diff.result.from)} → ${String(diff.result.to)}`} />}
    </div>
  );
}
