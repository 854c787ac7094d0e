/** Datasets: every dataset with its latest schema version, the stores it loads into and its Kafka topic. */
import { hrefOf } from '../../app/router.ts';
import { plural } from '../../ui/format.ts';
import { Empty, ErrorState, Loading } from '../../ui/states.tsx';
import type { DatasetViewResponse } from '../../api/datasets.ts';
import { sinksSummary } from './dataset-view.ts';
import { useDatasets } from './use-datasets.ts';
import './datasets.css';

export function DatasetsPage() {
  const datasets = useDatasets();
  return (
    <section aria-labelledby="datasets-title">
      <header className="page-header">
        <h1 id="datasets-title">Datasets</h1>
      </header>
      {datasets.error !== undefined && <ErrorState error={datasets.error} retry={datasets.reload} />}
      {datasets.data === undefined ? (
        datasets.error === undefined && <Loading what="datasets" />
      ) : datasets.data.length === 0 ? (
        <Empty>
          <p>No dataset yet.</p>
          <p>Create one with POST /api/v1/datasets: a name, its stores and the JSON Schema of its payload.</p>
        </Empty>
      ) : (
        <>
          <p className="count">{plural(datasets.data.length, 'dataset')}</p>
          <DatasetsTable datasets={datasets.data} />
        </>
      )}
    </section>
  );
}

function DatasetsTable({ datasets }: { datasets: readonly DatasetViewResponse[] }) {
  return (
    <table className="data-table datasets-table">
      <caption className="visually-hidden">Datasets</caption>
      <thead>
        <tr>
          <th scope="col">Dataset</th>
          <th scope="col">Latest version</th>
          <th scope="col">Stores</th>
          <th scope="col">Topic</th>
          <th scope="col">Last changed</th>
        </tr>
      </thead>
      <tbody>
        {datasets.map((d) => (
          <tr key={d.spec.name} data-dataset={d.spec.name}>
            <th scope="row">
              <a href={hrefOf.dataset(d.spec.name)}>{d.spec.name}</a>
              {d.spec.description && <div className="sub">{d.spec.description}</div>}
            </th>
            <td className="num">{d.latestVersion === 0 ? '—' : `v${String(d.latestVersion)}`}</td>
            <td>{sinksSummary(d.spec)}</td>
            <td className="mono">{d.topic}</td>
            <td title={d.versions.at(-1)?.createdAt}>{new Date(d.versions.at(-1)?.createdAt ?? d.createdAt).toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
