/**
 * Whether the signed-in user may change policies and rollouts (operator or admin). A viewer sees every policy,
 * revision, diff and rollout, and the console offers them no button the API would refuse (403).
 */
import { useClient } from '../../app/client-context.ts';

export function useCanPublish(): boolean {
  const role = useClient().user?.role;
  return role === 'operator' || role === 'admin';
}
