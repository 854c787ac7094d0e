/**
 * The audit log (admins): who changed what and when, newest first, filtered by actor, action, target and
 * time, paged by the API's cursor (older pages forward, back to newer ones), each entry's before/after shown
 * as the paths that changed. Other roles get a sentence, not a refused request.
 */
import { useState, type FormEvent } from 'react';
import type { AuditEntry, AuditQuery } from '../../api/audit.ts';
import { useClient } from '../../app/client-context.ts';
import { Empty, ErrorState, Loading } from '../../ui/states.tsx';
import { DiffView } from '../policies/diff-view.tsx';
import { actorText, AUDIT_PAGE_SIZE, auditQueryOf, entryChanges, NO_AUDIT_FILTER, type AuditFilter } from './audit-view.ts';
import { useAuditPage } from './use-audit.ts';
import './audit.css';

export function AuditPage() {
  const role = useClient().user?.role;
  return (
    <section aria-labelledby="audit-title">
      <header className="page-header">
        <h1 id="audit-title">Audit log</h1>
      </header>
      {role === 'admin' ? <AuditLog /> : <Empty>The audit log is for admins: your role is {role ?? 'unknown'}.</Empty>}
    </section>
  );
}

function AuditLog() {
  const [draft, setDraft] = useState<AuditFilter>(NO_AUDIT_FILTER);
  const [problems, setProblems] = useState<string[]>([]);
  const [query, setQuery] = useState<AuditQuery>({ limit: AUDIT_PAGE_SIZE });
  /** The cursors of the pages after the first that were opened: the last one is the page shown. */
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const page = useAuditPage(cursor === undefined ? query : { ...query, cursor });

  function apply(filter: AuditFilter) {
    const next = auditQueryOf(filter);
    setProblems(next.ok ? [] : next.problems);
    if (!next.ok) return;
    setQuery(next.query);
    setCursors([]);
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    apply(draft);
  };
  const field = (name: keyof AuditFilter) => ({ value: draft[name], onChange: (e: { target: { value: string } }) => setDraft({ ...draft, [name]: e.target.value }) });

  return (
    <>
      <form className="toolbar audit-filter" role="search" aria-label="Filter the audit log" onSubmit={submit}>
        <label>
          Actor
          <input {...field('actor')} placeholder="username, key id, agent id" />
        </label>
        <label>
          Action
          <input {...field('action')} placeholder="user.create or user.*" />
        </label>
        <label>
          Target
          <input {...field('target')} placeholder="dataset or dataset:meters" />
        </label>
        <label>
          From
          <input type="datetime-local" {...field('from')} />
        </label>
        <label>
          To
          <input type="datetime-local" {...field('to')} />
        </label>
        <button type="submit">Apply</button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            setDraft(NO_AUDIT_FILTER);
            apply(NO_AUDIT_FILTER);
          }}
        >
          Clear
        </button>
      </form>
      {problems.length > 0 && (
        <ul className="errors" aria-label="Filter problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {page.error !== undefined && <ErrorState error={page.error} retry={page.reload} />}
      {page.data === undefined ? (
        page.error === undefined && <Loading what="the audit log" />
      ) : (
        <>
          {page.data.entries.length === 0 ? <Empty>{cursor === undefined ? 'No entry matches the filter.' : 'No older entry.'}</Empty> : <AuditTable entries={page.data.entries} />}
          <nav className="toolbar pager" aria-label="Audit log pages">
            <button type="button" className="secondary" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
              ← Newer
            </button>
            <span className="sub">Page {cursors.length + 1}</span>
            <button type="button" className="secondary" disabled={page.data.nextCursor === null} onClick={() => page.data?.nextCursor && setCursors([...cursors, page.data.nextCursor])}>
              Older →
            </button>
          </nav>
        </>
      )}
    </>
  );
}

function AuditTable({ entries }: { entries: readonly AuditEntry[] }) {
  return (
    <table className="data-table audit-table">
      <caption className="visually-hidden">Audit entries, newest first</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          <th scope="col">Change</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((entry) => (
          <tr key={entry.id} data-audit={entry.action}>
            <td title={entry.at}>{new Date(entry.at).toLocaleString()}</td>
            <td>{actorText(entry.actor)}</td>
            <th scope="row" className="mono">
              {entry.action}
            </th>
            <td className="mono">{`${entry.target.kind}:${entry.target.id}`}</td>
            <td>
              <EntryChange entry={entry} />
              {entry.requestId && <div className="sub">request {entry.requestId}</div>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function EntryChange({ entry }: { entry: AuditEntry }) {
  const changes = entryChanges(entry);
  if (changes.length === 0) return <span className="sub">no recorded state</span>;
  return (
    <details className="audit-change">
      <summary>{changes.length === 1 ? '1 field' : `${String(changes.length)} fields`}: before → after</summary>
      <DiffView changes={changes} caption="before → after" />
    </details>
  );
}
