/** The datasets screens' data: the list, one dataset, one of its versions (immutable, so never refreshed). */
import { getDataset, getDatasetVersion, listDatasets, type DatasetVersionResponse, type DatasetViewResponse } from '../../api/datasets.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';

export const DATASETS_REFRESH_MS = 30_000;

export function useDatasets(): Resource<DatasetViewResponse[]> {
  const client = useClient();
  return useResource(() => listDatasets(client), [client], { refreshMs: DATASETS_REFRESH_MS });
}

export function useDataset(name: string): Resource<DatasetViewResponse> {
  const client = useClient();
  return useResource(() => getDataset(client, name), [client, name], { refreshMs: DATASETS_REFRESH_MS });
}

export function useDatasetVersion(name: string, version: number): Resource<DatasetVersionResponse> {
  const client = useClient();
  return useResource(() => getDatasetVersion(client, name, version), [client, name, version]);
}
