/**
 * Propose a schema version: edit the JSON Schema (it starts as the latest version's), check it against the
 * latest version (POST …/versions/check stores nothing) and read the compatibility report, then publish it.
 * An incompatible version is published only when "publish anyway" is ticked (the API's ?force=true).
 *
 *   editing --Check--> checked (report shown) --Publish--> published (the page shows the new version)
 *      ^                  |
 *      +---- any edit ----+
 */
import { useState } from 'react';
import { addDatasetVersion, checkDatasetVersion, type PayloadSchema, type VersionCheckResponse } from '../../api/datasets.ts';
import { useClient } from '../../app/client-context.ts';
import { ActionOutcome } from '../../ui/states.tsx';
import { useAction } from '../../ui/use-action.ts';
import { CompatibilityReport } from './compatibility-report.tsx';
import { readSchemaText, schemaText } from './dataset-view.ts';

export interface ProposeVersionProps {
  dataset: string;
  latest: PayloadSchema;
  /** False for a viewer: proposing needs the operator role. */
  canPropose: boolean;
  onPublished: () => void;
}

export function ProposeVersion({ dataset, latest, canPropose, onPublished }: ProposeVersionProps) {
  const client = useClient();
  const [text, setText] = useState(() => schemaText(latest));
  const [checked, setChecked] = useState<VersionCheckResponse | null>(null);
  const [force, setForce] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const read = readSchemaText(text);

  if (!canPropose) {
    return <p className="notice">You are signed in as a viewer: proposing a schema version needs the operator role.</p>;
  }

  function edit(next: string) {
    setText(next);
    setChecked(null);
    setForce(false);
    setDone(null);
  }

  /** A step on the schema the text holds (the buttons are off while it holds none). */
  const withSchema = (step: (schema: PayloadSchema) => Promise<void>) => run(() => (read.ok ? step(read.schema) : Promise.resolve()));
  const check = () => withSchema(async (schema) => setChecked(await checkDatasetVersion(client, dataset, schema)));
  const publish = () =>
    withSchema(async (schema) => {
      const published = await addDatasetVersion(client, dataset, schema, force);
      setChecked(null);
      setForce(false);
      setDone(`Version ${String(published.version)} published: records are validated against it from now on.`);
      onPublished();
    });

  const canPublish = checked !== null && read.ok && !busy && (checked.compatibility.compatible || force);
  return (
    <div className="propose-version">
      <label htmlFor="proposed-schema">JSON Schema of the new version</label>
      <textarea
        id="proposed-schema"
        className="mono schema-editor"
        spellCheck={false}
        rows={Math.min(18, Math.max(8, text.split('\n').length + 1))}
        value={text}
        onChange={(e) => edit(e.target.value)}
        aria-invalid={!read.ok}
        aria-describedby="proposed-schema-problem"
      />
      <p id="proposed-schema-problem" className="form-error" role={read.ok ? undefined : 'alert'}>
        {read.ok ? '' : read.problem}
      </p>
      <div className="toolbar">
        <button type="button" disabled={!read.ok || busy} onClick={() => void check()}>
          Check compatibility
        </button>
        <button type="button" className="secondary" disabled={text === schemaText(latest)} onClick={() => edit(schemaText(latest))}>
          Start again from the latest version
        </button>
      </div>
      <ActionOutcome error={error} done={done} />
      {checked && <CompatibilityReport check={checked} />}
      {checked && (
        <div className="toolbar">
          {!checked.compatibility.compatible && (
            <label className="checkbox">
              <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
              Publish anyway: stores keep the columns of earlier versions, and older records may not match
            </label>
          )}
          <button type="button" className="primary" disabled={!canPublish} onClick={() => void publish()}>
            Publish version {checked.version}
          </button>
        </div>
      )}
      {checked === null && done === null && <p className="sub">Check the schema to see its compatibility report before publishing it.</p>}
    </div>
  );
}
