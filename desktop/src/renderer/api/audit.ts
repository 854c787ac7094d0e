/** GET /api/v1/audit (admins), typed from its schemas (shared/src/api/audit.ts). */
import type { FromSchema } from 'json-schema-to-ts';
import type { AuditEntryResponse, AuditQuery, auditPageSchema } from '@sluice/shared/api/audit';
import type { ApiClient } from './client.ts';

export type AuditPage = FromSchema<typeof auditPageSchema>;
export type { AuditEntryResponse as AuditEntry, AuditQuery };

/** One page, newest first; pass the previous page's `nextCursor` as `cursor` for the next (older) one. */
export function getAuditPage(client: ApiClient, query: AuditQuery): Promise<AuditPage> {
  return client.get<AuditPage>('/api/v1/audit', query);
}
