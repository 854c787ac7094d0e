/** A new policy: name, description, the labels it selects (`key=value, …`) and its priority. */
import { useState } from 'react';
import { POLICY_NAME_PATTERN } from '@sluice/shared/api/policies';
import { createPolicy } from '../../api/policies.ts';
import { useClient } from '../../app/client-context.ts';
import { hrefOf } from '../../app/router.ts';
import { ErrorState } from '../../ui/states.tsx';

export type LabelsResult = { ok: true; labels: Record<string, string> } | { ok: false; problem: string };

export function parseLabels(text: string): LabelsResult {
  const labels: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, problem: `"${part}" is not key=value` };
    labels[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return { ok: true, labels };
}

export function CreatePolicyForm({ onCreated }: { onCreated: () => void }) {
  const client = useClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [labels, setLabels] = useState('');
  const [priority, setPriority] = useState('0');
  const [error, setError] = useState<unknown>(undefined);
  const parsed = parseLabels(labels);
  const nameOk = new RegExp(POLICY_NAME_PATTERN).test(name);
  const priorityOk = Number.isInteger(Number(priority));

  async function submit() {
    if (!parsed.ok) return;
    try {
      const created = await createPolicy(client, { name, description, selector: { labels: parsed.labels }, priority: Number(priority) });
      onCreated();
      window.location.hash = hrefOf.policy(created.name);
    } catch (e) {
      setError(e);
    }
  }

  return (
    <form
      className="create-policy"
      aria-label="Create a policy"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="berlin-gateways" aria-invalid={name !== '' && !nameOk} />
      </label>
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <label>
        Selects labels
        <input value={labels} onChange={(e) => setLabels(e.target.value)} placeholder="site=berlin, role=gw" aria-invalid={!parsed.ok} />
      </label>
      <label>
        Priority
        <input inputMode="numeric" value={priority} onChange={(e) => setPriority(e.target.value)} aria-invalid={!priorityOk} />
      </label>
      <button type="submit" disabled={!nameOk || !parsed.ok || !priorityOk}>
        Create policy
      </button>
      {name !== '' && !nameOk && <p className="form-error">The name is lower-case letters, digits, _ . - (starting with a letter or digit).</p>}
      {!parsed.ok && <p className="form-error">{parsed.problem}</p>}
      {error !== undefined && <ErrorState error={error} />}
    </form>
  );
}
