/**
 * One rollout's progress: state, per wave and per agent, the last gate report, and the actions its state
 * allows (none without `onAction`: a viewer's). Abort and rollback move agents back, so they ask first.
 */
import { useState } from 'react';
import type { AgentSummary } from '../../api/agents.ts';
import type { RolloutAction, RolloutView } from '../../api/policies.ts';
import { hrefOf } from '../../app/router.ts';
import { StatusBadge } from '../../ui/status-badge.tsx';
import { gateReportOf, rolloutActions, rolloutStage, rolloutWaves } from './rollout-progress.ts';

const DESTRUCTIVE: readonly RolloutAction[] = ['abort', 'rollback'];
const CONFIRM: Record<RolloutAction, string> = {
  pause: '',
  resume: '',
  abort: 'Abort: the agents already moved go back to the previous revision, no later wave opens.',
  rollback: 'Roll back: every agent that got this revision goes back to the previous one.',
};

export interface RolloutProgressProps {
  rollout: RolloutView;
  agents: readonly AgentSummary[];
  onAction: ((action: RolloutAction) => void) | undefined;
  busy: boolean;
}

export function RolloutProgress({ rollout, agents, onAction, busy }: RolloutProgressProps) {
  const [confirming, setConfirming] = useState<RolloutAction | null>(null);
  const waves = rolloutWaves(rollout, agents);
  const gate = gateReportOf(rollout.gateReport);
  const act = (action: RolloutAction) => {
    if (DESTRUCTIVE.includes(action) && confirming !== action) setConfirming(action);
    else {
      setConfirming(null);
      onAction?.(action);
    }
  };

  return (
    <section className="rollout" aria-label={`Rollout ${String(rollout.id)}`} data-rollout={rollout.id}>
      <h3>
        Rollout {rollout.id}: revision {rollout.fromRevision ?? '—'} → {rollout.toRevision} <StatusBadge status={rollout.state} />
      </h3>
      <p className="sub">
        {rolloutStage(rollout, waves)}
        {rollout.reason !== null && ` — ${rollout.reason}`}
      </p>
      <div className="toolbar">
        {(onAction ? rolloutActions(rollout.state) : []).map((action) => (
          <button key={action} type="button" disabled={busy} onClick={() => act(action)} className={DESTRUCTIVE.includes(action) ? 'danger' : undefined}>
            {action === 'rollback' ? 'Roll back' : action[0]!.toUpperCase() + action.slice(1)}
          </button>
        ))}
      </div>
      {confirming !== null && (
        <div className="confirm" role="alertdialog" aria-label="Confirm">
          <p>{CONFIRM[confirming]}</p>
          <button type="button" className="danger" onClick={() => act(confirming)}>
            Yes, {confirming === 'rollback' ? 'roll back' : confirming}
          </button>{' '}
          <button type="button" onClick={() => setConfirming(null)}>
            Cancel
          </button>
        </div>
      )}
      {waves.map((wave) => (
        <table key={wave.wave} className="data-table wave-table" data-wave={wave.wave}>
          <caption>
            {wave.label}
            {!wave.opened && ' (not opened yet)'}: {wave.counts.applied} applied, {wave.counts.applying} applying, {wave.counts.failed} failed
            {wave.counts.reverted > 0 && `, ${String(wave.counts.reverted)} reverted`}
          </caption>
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {wave.agents.map((row) => (
              <tr key={row.agentId} data-agent={row.agentId}>
                <th scope="row">
                  <a href={hrefOf.agent(row.agentId)}>{row.name}</a>
                </th>
                <td>
                  <StatusBadge status={row.state} />
                  {row.reason !== null && <span className="sub"> {row.reason}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
      {gate && (
        <div className="gate-report">
          <h4>
            Gate: {gate.verdict}
            {gate.reason !== undefined && ` — ${gate.reason}`}
          </h4>
          <ul className="gate-agents">
            {gate.agents.map((a) => (
              <li key={a.agentId}>
                <span className="mono">{a.agentId}</span>: {a.ok ? 'ok' : a.problems.join('; ')}
                {a.rates &&
                  Object.entries(a.rates).map(([dataset, r]) => (
                    <span key={dataset} className="sub">
                      {' '}
                      {dataset} {r.before.toFixed(1)}/s before, {r.during.toFixed(1)}/s during
                    </span>
                  ))}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
