/** One dead-lettered record: why, where it came from, its original bytes (text and hex), its replays; replay it. */
import { useState } from 'react';
import { isSluiceError } from '@sluice/shared/errors';
import { replayDlqEntry, type DlqEntryDetailResponse } from '../../api/dlq.ts';
import { useClient } from '../../app/client-context.ts';
import { hrefOf } from '../../app/router.ts';
import { ago, bytes } from '../../ui/format.ts';
import { ErrorState, Loading } from '../../ui/states.tsx';
import { useAction } from '../../ui/use-action.ts';
import { OriginalBytes } from './original-bytes.tsx';
import { REASONS } from './dlq-view.ts';
import { useDlqEntry } from './use-dlq.ts';
import './dlq.css';

export function DlqEntryPage({ id }: { id: string }) {
  const entry = useDlqEntry(id);
  const back = (
    <a className="back" href={hrefOf.dlq()}>
      ← Dead-letter queue
    </a>
  );
  if (entry.data === undefined) {
    return (
      <section>
        {back}
        {entry.error === undefined ? <Loading what={`DLQ entry ${id}`} /> : <ErrorState error={entry.error} retry={entry.reload} />}
      </section>
    );
  }
  const e = entry.data;
  const now = Date.now();
  return (
    <section aria-labelledby="entry-title" className="dlq-page">
      {back}
      <header className="page-header">
        <h1 id="entry-title">
          Dead-lettered record #{e.id} <span className={`badge badge-reason badge-${e.reasonKind}`}>{REASONS[e.reasonKind].label}</span>
        </h1>
        <ReplayButton entry={e} onReplayed={entry.reload} />
      </header>
      {entry.error !== undefined && <ErrorState error={entry.error} retry={entry.reload} />}
      <h2>Reason</h2>
      <p className="reason-text">{e.reason}</p>
      {e.paths.length > 0 && (
        <p>
          Where: <span className="mono">{e.paths.join(', ')}</span>
        </p>
      )}
      <p className="sub">Usually: {REASONS[e.reasonKind].fix}.</p>
      <dl className="facts">
        <dt>Dataset</dt>
        <dd>{e.dataset === null ? '—' : <a href={hrefOf.dataset(e.dataset)}>{e.dataset}</a>}</dd>
        <dt>Record id</dt>
        <dd className="mono">{e.recordId ?? '—'}</dd>
        <dt>Came from</dt>
        <dd className="mono">
          {e.topic} partition {e.partition} offset {e.offset}
        </dd>
        <dt>Schema version</dt>
        <dd>{e.schemaVersion ?? '—'}</dd>
        <dt>Dead-lettered</dt>
        <dd title={e.createdAt}>{ago(e.createdAt, now)}</dd>
        <dt>Last replayed</dt>
        <dd title={e.replayedAt ?? undefined}>{e.replayedAt === null ? 'never' : ago(e.replayedAt, now)}</dd>
        <dt>Size</dt>
        <dd>{bytes(e.size)}</dd>
      </dl>
      <h2>Original</h2>
      <OriginalBytes entry={e} />
      <h2>Headers</h2>
      <table className="data-table">
        <caption className="visually-hidden">Kafka headers</caption>
        <tbody>
          {Object.entries(e.headers).map(([name, value]) => (
            <tr key={name}>
              <th scope="row" className="mono">
                {name}
              </th>
              <td className="mono">{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Replays</h2>
      {e.replays.length === 0 ? (
        <p className="sub">Never replayed.</p>
      ) : (
        <table className="data-table">
          <caption className="visually-hidden">Replay history</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">By</th>
              <th scope="col">Landed at</th>
              <th scope="col">Forced</th>
            </tr>
          </thead>
          <tbody>
            {e.replays.map((r) => (
              <tr key={`${r.topic}/${String(r.partition)}/${r.offset}`}>
                <td title={r.replayedAt}>{new Date(r.replayedAt).toLocaleString()}</td>
                <td>
                  {r.keyName} <span className="sub">{r.keyId}</span>
                </td>
                <td className="mono">
                  {r.topic} partition {r.partition} offset {r.offset}
                </td>
                <td>{r.forced ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Replay (operators); an entry replayed before asks again before it is replayed once more. */
function ReplayButton({ entry, onReplayed }: { entry: DlqEntryDetailResponse; onReplayed: () => void }) {
  const client = useClient();
  const { busy, error, run } = useAction();
  const [done, setDone] = useState<string | undefined>(undefined);
  const role = client.user?.role;
  if (role !== 'operator' && role !== 'admin') return null;
  const again = entry.replayedAt !== null;

  const replay = () =>
    run(async () => {
      const answer = await replayDlqEntry(client, entry.id, again);
      setDone(`Replayed to ${answer.replay.topic} partition ${String(answer.replay.partition)} offset ${answer.replay.offset}.`);
      onReplayed();
    });

  const conflict = isSluiceError(error, 'ConflictError');
  return (
    <div className="toolbar entry-replay">
      <button type="button" onClick={() => void replay()} disabled={busy}>
        {again ? 'Replay again' : 'Replay'}
      </button>
      {done !== undefined && (
        <span role="status" className="run-ok">
          {done}
        </span>
      )}
      {error !== undefined && !conflict && <ErrorState error={error} />}
      {conflict && <span className="form-error">{error.message} Reload to replay it again.</span>}
    </div>
  );
}
