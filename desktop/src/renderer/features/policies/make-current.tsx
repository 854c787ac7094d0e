/**
 * Going back to an earlier revision at once, without a rollout (POST …/rollback): every agent of the policy
 * gets it and an active rollout of the policy ends as aborted, so the button asks first.
 */
import { useState } from 'react';
import { makeRevisionCurrent } from '../../api/policies.ts';
import { useClient } from '../../app/client-context.ts';
import { ErrorState } from '../../ui/states.tsx';
import { useAction } from '../../ui/use-action.ts';

export function MakeCurrent({ policy, revision, onDone }: { policy: string; revision: number; onDone: () => void }) {
  const client = useClient();
  const { busy, error, run } = useAction();
  const [asking, setAsking] = useState(false);
  const go = () =>
    run(async () => {
      await makeRevisionCurrent(client, policy, revision);
      setAsking(false);
      onDone();
    });

  if (!asking) {
    return (
      <button type="button" className="secondary" onClick={() => setAsking(true)}>
        Make current
      </button>
    );
  }
  return (
    <div className="confirm" role="alertdialog" aria-label={`Make revision ${String(revision)} current`}>
      <p>Every agent of the policy gets revision {revision} at once, without a rollout; a rollout under way ends as aborted.</p>
      <button type="button" className="danger" disabled={busy} onClick={() => void go()}>
        Yes, make revision {revision} current
      </button>{' '}
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
      {error !== undefined && <ErrorState error={error} />}
    </div>
  );
}
