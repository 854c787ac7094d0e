/**
 * The policy's pipeline as JSON text, validated as it is typed. Each problem marks its line in the gutter
 * and is listed below; choosing one puts the cursor on its field. The options left to their defaults are
 * listed with their values, and the effective config (defaults filled in) shows what agents will run.
 * Read-only for a viewer: they see the pipeline and its defaults, they cannot change it.
 */
import { useRef } from 'react';
import type { ConfigCheck, PlacedProblem } from './config-check.ts';

export interface ConfigEditorProps {
  text: string;
  onChange: (text: string) => void;
  check: ConfigCheck;
  serverProblems: readonly PlacedProblem[];
  readOnly?: boolean;
}

export function ConfigEditor({ text, onChange, check, serverProblems, readOnly = false }: ConfigEditorProps) {
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const problems = [...(check.ok ? [] : check.problems), ...serverProblems];
  const badLines = new Set(problems.flatMap((p) => (p.at ? [p.at.line] : [])));
  const lineCount = text.split('\n').length;

  function goTo(problem: PlacedProblem) {
    const el = area.current;
    if (!el || !problem.at) return;
    const lines = text.split('\n');
    const offset = lines.slice(0, problem.at.line - 1).reduce((n, line) => n + line.length + 1, 0) + problem.at.column - 1;
    el.focus();
    el.setSelectionRange(offset, offset);
  }

  return (
    <div className="config-editor">
      <label htmlFor="policy-config">Pipeline (JSON: the agent config&apos;s sources)</label>
      <div className="editor-frame">
        <div className="editor-gutter mono" ref={gutter} aria-hidden="true">
          {Array.from({ length: lineCount }, (_, i) => (
            <div key={i} className={badLines.has(i + 1) ? 'gutter-line gutter-bad' : 'gutter-line'}>
              {badLines.has(i + 1) ? '● ' : ''}
              {i + 1}
            </div>
          ))}
        </div>
        <textarea
          id="policy-config"
          ref={area}
          className="editor-text mono"
          spellCheck={false}
          wrap="off"
          readOnly={readOnly}
          value={text}
          rows={Math.min(28, Math.max(10, lineCount + 1))}
          aria-invalid={problems.length > 0}
          aria-describedby="policy-config-problems"
          onChange={(e) => onChange(e.target.value)}
          onScroll={(e) => {
            if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
          }}
        />
      </div>
      <div id="policy-config-problems" aria-live="polite">
        {problems.length === 0 ? (
          <p className="config-ok">The config is valid.</p>
        ) : (
          <ul className="errors config-problems" aria-label="Problems">
            {problems.map((p) => (
              <li key={`${p.path} ${p.reason}`} data-path={p.path}>
                <button type="button" className="link-button" onClick={() => goTo(p)} disabled={!p.at}>
                  {p.at ? `line ${String(p.at.line)}` : 'somewhere'}
                </button>{' '}
                <code>{p.path}</code> {p.reason}
              </li>
            ))}
          </ul>
        )}
      </div>
      {check.ok && (
        <>
          <details className="defaults">
            <summary>{check.defaults.length === 1 ? '1 option keeps its default' : `${String(check.defaults.length)} options keep their defaults`}</summary>
            <table className="data-table defaults-table">
              <caption className="visually-hidden">Defaults</caption>
              <thead>
                <tr>
                  <th scope="col">Option</th>
                  <th scope="col">Default</th>
                </tr>
              </thead>
              <tbody>
                {check.defaults.map((d) => (
                  <tr key={d.path} data-path={d.path}>
                    <th scope="row" className="mono">
                      {d.path}
                    </th>
                    <td className="mono">{JSON.stringify(d.value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
          <details className="effective-config">
            <summary>Effective config (defaults filled in)</summary>
            <pre className="mono">{JSON.stringify(check.effective, null, 2)}</pre>
          </details>
        </>
      )}
    </div>
  );
}
