/**
 * One policy: its rollouts' progress (with pause / resume / abort / roll back), its revisions and their diffs,
 * and the pipeline editor with publish. A viewer sees all of it and changes nothing.
 */
import { useState } from 'react';
import { rolloutAction, type RolloutAction } from '../../api/policies.ts';
import { hrefOf } from '../../app/router.ts';
import { useClient } from '../../app/client-context.ts';
import { labelsText } from '../../ui/format.ts';
import { ErrorState, Loading } from '../../ui/states.tsx';
import { StatusBadge } from '../../ui/status-badge.tsx';
import { useAction } from '../../ui/use-action.ts';
import { PublishPanel } from './publish-panel.tsx';
import { RevisionsPanel } from './revisions-panel.tsx';
import { RolloutProgress } from './rollout-progress-view.tsx';
import { isActiveRollout } from './rollout-progress.ts';
import { useCanPublish } from './use-can-publish.ts';
import { usePolicy, useRollouts } from './use-policy.ts';
import './policies.css';

export function PolicyPage({ name }: { name: string }) {
  const client = useClient();
  const canPublish = useCanPublish();
  const data = usePolicy(name);
  const [live, setLive] = useState(false);
  const rollouts = useRollouts(name, data.data?.policy.selector.labels, live);
  const action = useAction();
  const latest = rollouts.data?.rollouts[0];
  const active = latest !== undefined && isActiveRollout(latest);
  if (active !== live) setLive(active);

  const reloadAll = () => {
    rollouts.reload();
    data.reload();
  };
  const act = (id: number, what: RolloutAction) =>
    action.run(async () => {
      try {
        await rolloutAction(client, id, what);
      } finally {
        reloadAll();
      }
    });

  return (
    <section aria-labelledby="policy-title">
      <a className="back" href={hrefOf.policies()}>
        ← Policies
      </a>
      <header className="page-header">
        <h1 id="policy-title">Policy {name}</h1>
      </header>
      {data.error !== undefined && <ErrorState error={data.error} retry={data.reload} />}
      {data.data === undefined ? (
        data.error === undefined && <Loading what="the policy" />
      ) : (
        <>
          <dl className="facts">
            <dt>Description</dt>
            <dd>{data.data.policy.description || '—'}</dd>
            <dt>Selects</dt>
            <dd>{Object.keys(data.data.policy.selector.labels).length === 0 ? 'every agent' : labelsText(data.data.policy.selector.labels)}</dd>
            <dt>Priority</dt>
            <dd>{data.data.policy.priority}</dd>
            <dt>Current revision</dt>
            <dd>{data.data.policy.currentRevision ?? 'none yet'}</dd>
          </dl>
          <h2>Rollouts</h2>
          {rollouts.error !== undefined && <ErrorState error={rollouts.error} retry={rollouts.reload} />}
          {action.error !== undefined && <ErrorState error={action.error} />}
          {rollouts.data === undefined ? (
            rollouts.error === undefined && <Loading what="rollouts" />
          ) : latest === undefined ? (
            <p className="sub">No rollout yet.</p>
          ) : (
            <>
              <RolloutProgress rollout={latest} agents={rollouts.data.agents} busy={action.busy} onAction={canPublish ? (what) => void act(latest.id, what) : undefined} />
              {rollouts.data.rollouts.length > 1 && (
                <ul className="past-rollouts" aria-label="Earlier rollouts">
                  {rollouts.data.rollouts.slice(1, 10).map((r) => (
                    <li key={r.id}>
                      Rollout {r.id}: {r.fromRevision ?? '—'} → {r.toRevision} <StatusBadge status={r.state} /> {r.reason}
                    </li>
                  ))}
                </ul>
              )}
            </>
          )}
          <h2>Revisions</h2>
          <RevisionsPanel
            key={`revisions-${String(data.data.revisions[0]?.number ?? 0)}`}
            policy={name}
            revisions={data.data.revisions}
            current={data.data.policy.currentRevision}
            onMadeCurrent={canPublish ? reloadAll : undefined}
          />
          <PublishPanel
            key={`edit-${String(data.data.current?.number ?? 0)}`}
            policy={name}
            current={data.data.current}
            rolloutActive={active}
            agentIds={(rollouts.data?.agents ?? []).map((a) => a.id)}
            canPublish={canPublish}
            onPublished={reloadAll}
          />
        </>
      )}
    </section>
  );
}

