/**
 * One dataset: what it is (topic, partition key), where its records go (stores), its schema versions with
 * their schemas (the latest shown first, any earlier one on demand), and the editor that proposes the next.
 */
import { useState } from 'react';
import type { DatasetViewResponse } from '../../api/datasets.ts';
import { useClient } from '../../app/client-context.ts';
import { hrefOf } from '../../app/router.ts';
import { ErrorState, Loading } from '../../ui/states.tsx';
import { ProposeVersion } from './propose-version.tsx';
import { SchemaView } from './schema-view.tsx';
import { SinksTable } from './sinks-table.tsx';
import { useDataset, useDatasetVersion } from './use-datasets.ts';
import './datasets.css';

export function DatasetPage({ name }: { name: string }) {
  const dataset = useDataset(name);
  const role = useClient().user?.role;
  const back = (
    <a className="back" href={hrefOf.datasets()}>
      ← Datasets
    </a>
  );
  if (dataset.data === undefined) {
    return (
      <section>
        {back}
        {dataset.error === undefined ? <Loading what={`dataset ${name}`} /> : <ErrorState error={dataset.error} retry={dataset.reload} />}
      </section>
    );
  }
  const d = dataset.data;
  return (
    <section aria-labelledby="dataset-title">
      {back}
      <header className="page-header">
        <h1 id="dataset-title">{d.spec.name}</h1>
      </header>
      {dataset.error !== undefined && <ErrorState error={dataset.error} retry={dataset.reload} />}
      <dl className="facts">
        {d.spec.description && (
          <>
            <dt>Description</dt>
            <dd>{d.spec.description}</dd>
          </>
        )}
        <dt>Kafka topic</dt>
        <dd className="mono">{d.topic}</dd>
        <dt>Message key</dt>
        <dd>{d.spec.partitionKey ? `payload field ${d.spec.partitionKey} (records with one key stay in order)` : 'the record id'}</dd>
        <dt>Latest version</dt>
        <dd>{d.latestVersion === 0 ? '—' : `v${String(d.latestVersion)}, ${new Date(d.versions.at(-1)?.createdAt ?? d.createdAt).toLocaleString()}`}</dd>
        <dt>Created</dt>
        <dd>{new Date(d.createdAt).toLocaleString()}</dd>
      </dl>
      <h2>Stores</h2>
      <SinksTable spec={d.spec} />
      <h2>Schema versions</h2>
      <Versions dataset={d} />
      <h2>Propose a version</h2>
      {d.latestVersion === 0 ? (
        <p className="sub">The dataset has no schema version to compare a new one with.</p>
      ) : (
        <ProposeVersion dataset={d.spec.name} latest={d.schema} canPropose={role !== undefined && role !== 'viewer'} onPublished={dataset.reload} />
      )}
    </section>
  );
}

/** A version picker over the schema of the chosen version (the latest comes with the dataset). */
function Versions({ dataset }: { dataset: DatasetViewResponse }) {
  const [chosen, setChosen] = useState<number | null>(null);
  const shown = chosen ?? dataset.latestVersion;
  if (dataset.versions.length === 0) return <p className="sub">No schema version yet.</p>;
  return (
    <div className="versions">
      <div className="version-picker" role="group" aria-label="Schema versions">
        {[...dataset.versions].reverse().map((v) => (
          <button
            key={v.version}
            type="button"
            className={v.version === shown ? 'version-chosen' : 'secondary'}
            aria-pressed={v.version === shown}
            title={new Date(v.createdAt).toLocaleString()}
            onClick={() => setChosen(v.version)}
          >
            v{v.version}
            {v.version === dataset.latestVersion && ' (latest)'}
          </button>
        ))}
      </div>
      {shown === dataset.latestVersion ? <SchemaView schema={dataset.schema} caption={`Fields of version ${String(shown)}`} /> : <OlderVersion name={dataset.spec.name} version={shown} />}
    </div>
  );
}

function OlderVersion({ name, version }: { name: string; version: number }) {
  const stored = useDatasetVersion(name, version);
  if (stored.data === undefined || stored.data.version !== version) {
    return stored.error === undefined ? <Loading what={`version ${String(version)}`} /> : <ErrorState error={stored.error} retry={stored.reload} />;
  }
  return <SchemaView schema={stored.data.schema} caption={`Fields of version ${String(version)}`} />;
}
