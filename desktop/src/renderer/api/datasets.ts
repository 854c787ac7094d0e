/** /api/v1/datasets, typed from its schemas (shared/src/api/datasets.ts). */
import type {
  AddVersionResponse,
  CompatibilityReportResponse,
  DatasetListResponse,
  DatasetVersionResponse,
  DatasetViewResponse,
  VersionCheckResponse,
} from '@sluice/shared/api/datasets';
import type { ApiClient } from './client.ts';

export type { AddVersionResponse, CompatibilityReportResponse, DatasetVersionResponse, DatasetViewResponse, VersionCheckResponse };
export type DatasetSinks = DatasetViewResponse['spec']['sinks'];
export type PayloadSchema = DatasetVersionResponse['schema'];

const datasetPath = (name: string) => `/api/v1/datasets/${encodeURIComponent(name)}`;

export async function listDatasets(client: ApiClient): Promise<DatasetViewResponse[]> {
  return (await client.get<DatasetListResponse>('/api/v1/datasets')).items;
}

export function getDataset(client: ApiClient, name: string): Promise<DatasetViewResponse> {
  return client.get<DatasetViewResponse>(datasetPath(name));
}

export function getDatasetVersion(client: ApiClient, name: string, version: number): Promise<DatasetVersionResponse> {
  return client.get<DatasetVersionResponse>(`${datasetPath(name)}/versions/${String(version)}`);
}

/** What publishing `schema` would do (the compatibility report against the latest version), storing nothing. */
export function checkDatasetVersion(client: ApiClient, name: string, schema: PayloadSchema): Promise<VersionCheckResponse> {
  return client.post<VersionCheckResponse>(`${datasetPath(name)}/versions/check`, { schema });
}

/** Publishes `schema` as the next version; an incompatible one is refused (409, the report in details) unless forced. */
export function addDatasetVersion(client: ApiClient, name: string, schema: PayloadSchema, force: boolean): Promise<AddVersionResponse> {
  return client.request<AddVersionResponse>('POST', `${datasetPath(name)}/versions`, { body: { schema }, query: force ? { force: true } : undefined });
}
