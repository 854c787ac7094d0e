/** Policies: each with what it selects, its priority, current revision and latest rollout; create one (not a viewer). */
import { hrefOf } from '../../app/router.ts';
import { labelsText } from '../../ui/format.ts';
import { Empty, ErrorState, Loading } from '../../ui/states.tsx';
import { StatusBadge } from '../../ui/status-badge.tsx';
import { CreatePolicyForm } from './create-policy-form.tsx';
import { useCanPublish } from './use-can-publish.ts';
import { usePolicies } from './use-policies.ts';
import './policies.css';

export function PoliciesPage() {
  const policies = usePolicies();
  const canPublish = useCanPublish();
  return (
    <section aria-labelledby="policies-title">
      <header className="page-header">
        <h1 id="policies-title">Policies</h1>
      </header>
      {policies.error !== undefined && <ErrorState error={policies.error} retry={policies.reload} />}
      {policies.data === undefined ? (
        policies.error === undefined && <Loading what="policies" />
      ) : policies.data.length === 0 ? (
        <Empty>
          <p>No policy yet. A policy gives the agents whose labels it selects their pipeline{canPublish ? '; create the first one below' : ''}.</p>
        </Empty>
      ) : (
        <table className="data-table policies-table">
          <caption className="visually-hidden">Policies</caption>
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Selects</th>
              <th scope="col" className="num">
                Priority
              </th>
              <th scope="col">Current revision</th>
              <th scope="col">Latest rollout</th>
            </tr>
          </thead>
          <tbody>
            {policies.data.map(({ policy, latestRollout }) => (
              <tr key={policy.name} data-policy={policy.name}>
                <th scope="row">
                  <a href={hrefOf.policy(policy.name)}>{policy.name}</a>
                  <div className="sub">{policy.description}</div>
                </th>
                <td className="labels">{Object.keys(policy.selector.labels).length === 0 ? 'every agent' : labelsText(policy.selector.labels)}</td>
                <td className="num">{policy.priority}</td>
                <td>{policy.currentRevision ?? 'none yet'}</td>
                <td>
                  {latestRollout ? (
                    <>
                      <StatusBadge status={latestRollout.state} /> <span className="sub">→ revision {latestRollout.toRevision}</span>
                    </>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canPublish && (
        <>
          <h2>Create a policy</h2>
          <CreatePolicyForm onCreated={policies.reload} />
        </>
      )}
    </section>
  );
}
