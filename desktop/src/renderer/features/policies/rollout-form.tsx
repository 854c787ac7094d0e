/** The rollout options of a publish: all at once, or canaries and waves behind the health gate. */
import { GATE_DEFAULTS } from '@sluice/shared/fleet/rollout';
import { GATE_FIELDS, gateHint, gateLabel, type RolloutOptions } from './rollout-options.ts';

export function RolloutForm({ options, onChange, agentIds }: { options: RolloutOptions; onChange: (options: RolloutOptions) => void; agentIds: readonly string[] }) {
  const staged = options.kind === 'staged';
  const set = (changes: Partial<RolloutOptions>) => onChange({ ...options, ...changes });
  return (
    <fieldset className="rollout-form">
      <legend>Rollout</legend>
      <label className="checkbox">
        <input type="radio" name="rollout-kind" checked={staged} onChange={() => set({ kind: 'staged' })} />
        Staged: canaries, then waves, each behind the health gate
      </label>
      <label className="checkbox">
        <input type="radio" name="rollout-kind" checked={!staged} onChange={() => set({ kind: 'all' })} />
        All at once (no gate)
      </label>
      {staged && (
        <>
          <div className="rollout-fields">
            <div className="field">
              <label htmlFor="rollout-canary-by">Canaries</label>
              <select id="rollout-canary-by" value={options.canaryBy} onChange={(e) => set({ canaryBy: e.target.value === 'agents' ? 'agents' : 'percent' })}>
                <option value="percent">a share of the agents</option>
                <option value="agents">named agents</option>
              </select>
            </div>
            {options.canaryBy === 'percent' ? (
              <label>
                Canaries (% of agents)
                <input inputMode="decimal" value={options.canaryPercent} onChange={(e) => set({ canaryPercent: e.target.value })} />
              </label>
            ) : (
              <label>
                Canary agents (ids, comma-separated)
                <input list="rollout-agent-ids" value={options.canaryAgents} onChange={(e) => set({ canaryAgents: e.target.value })} placeholder={agentIds[0] ?? 'gw-berlin-1'} />
                <datalist id="rollout-agent-ids">
                  {agentIds.map((id) => (
                    <option key={id} value={id} />
                  ))}
                </datalist>
              </label>
            )}
            <label>
              Waves (% of the rest, comma-separated)
              <input value={options.waves} onChange={(e) => set({ waves: e.target.value })} />
            </label>
            <label>
              Soak per wave (seconds)
              <input inputMode="numeric" value={options.soakSeconds} onChange={(e) => set({ soakSeconds: e.target.value })} />
            </label>
          </div>
          <details className="gate-fields">
            <summary>Health gate (empty fields keep their defaults)</summary>
            <div className="rollout-fields">
              {GATE_FIELDS.map((field) => (
                <div key={field} className="field">
                  <label htmlFor={`gate-${field}`}>Gate: {gateLabel(field)}</label>
                  <input
                    id={`gate-${field}`}
                    inputMode="decimal"
                    placeholder={String(GATE_DEFAULTS[field])}
                    aria-describedby={`gate-${field}-hint`}
                    value={options.gate[field] ?? ''}
                    onChange={(e) => set({ gate: { ...options.gate, [field]: e.target.value } })}
                  />
                  <span id={`gate-${field}-hint`} className="sub">
                    {gateHint(field)}
                  </span>
                </div>
              ))}
            </div>
          </details>
        </>
      )}
    </fieldset>
  );
}
