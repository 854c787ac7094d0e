/** The signed-in API client, for the resource hooks (features/<screen>/use-*.ts) and nothing else. */
import { createContext, useContext } from 'react';
import type { ApiClient } from '../api/client.ts';

export const ClientContext = createContext<ApiClient | undefined>(undefined);

export function useClient(): ApiClient {
  const client = useContext(ClientContext);
  if (client === undefined) throw new Error('useClient outside a signed-in console');
  return client;
}
