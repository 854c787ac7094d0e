/** What a dry run found and what a replay did, as the replay panel shows them. */
import type { DlqDryRunResponse, ReplayProgress } from '../../api/dlq.ts';
import { hrefOf } from '../../app/router.ts';
import { dryRunSummary, entryCount, REASONS } from './dlq-view.ts';

export function DryRunResult({ result }: { result: DlqDryRunResponse }) {
  return (
    <div className="run-result" role="status" aria-label="Dry run result">
      <p className={result.wouldFail === 0 ? 'run-ok' : 'run-mixed'}>{dryRunSummary(result)}</p>
      <dl className="run-figures">
        <dt>Would pass</dt>
        <dd data-figure="wouldPass">{result.wouldPass}</dd>
        <dt>Would fail</dt>
        <dd data-figure="wouldFail">{result.wouldFail}</dd>
        <dt>Checked</dt>
        <dd>{result.total}</dd>
      </dl>
      {result.byReason.length > 0 && (
        <ul className="run-reasons">
          {result.byReason.map((r) => (
            <li key={r.reasonKind}>
              {r.count} × {REASONS[r.reasonKind].label}: <span className="sub">{r.example}</span>
            </li>
          ))}
        </ul>
      )}
      {result.samples.length > 0 && (
        <table className="data-table">
          <caption>First failures</caption>
          <thead>
            <tr>
              <th scope="col">Entry</th>
              <th scope="col">Record</th>
              <th scope="col">Where</th>
              <th scope="col">Why it would fail now</th>
            </tr>
          </thead>
          <tbody>
            {result.samples.map((s) => (
              <tr key={s.id}>
                <th scope="row">
                  <a href={hrefOf.dlqEntry(s.id)}>#{s.id}</a>
                </th>
                <td className="mono">{s.recordId ?? '—'}</td>
                <td className="mono">{s.paths.length === 0 ? '—' : s.paths.join(', ')}</td>
                <td>{s.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function ReplayResult({ progress, done }: { progress: ReplayProgress; done: boolean }) {
  return (
    <div className="run-result" role="status" aria-label="Replay result">
      <p className="run-ok">
        {done ? 'Replayed' : 'Replaying…'} {entryCount(progress.replayed)}
        {progress.skipped.length > 0 && `, skipped ${String(progress.skipped.length)}`}
        {!done && progress.remaining > 0 && `, ${String(progress.remaining)} to go`}.
      </p>
      {done && <p className="sub">The consumer takes them again within seconds; a record that fails again shows up as a new entry.</p>}
      {progress.skipped.length > 0 && (
        <ul className="run-reasons">
          {progress.skipped.slice(0, 20).map((s) => (
            <li key={s.id}>
              <a href={hrefOf.dlqEntry(s.id)}>#{s.id}</a>: {s.reason}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
