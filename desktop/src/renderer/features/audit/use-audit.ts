/** One page of the audit log for a query (a new query or cursor loads anew; the log is not refreshed live). */
import { getAuditPage, type AuditPage, type AuditQuery } from '../../api/audit.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';

export function useAuditPage(query: AuditQuery): Resource<AuditPage> {
  const client = useClient();
  // The query is rebuilt on every render; its JSON says when it really changed.
  const key = JSON.stringify(query);
  return useResource(() => getAuditPage(client, query), [client, key]);
}
