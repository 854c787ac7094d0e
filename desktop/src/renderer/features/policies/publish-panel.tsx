/**
 * Edit, review, publish. The editor checks the schema as it is typed; Review and Publish stay disabled until
 * it holds. Review asks the server (POST …/validate: datasets exist, folders allowed) and shows the diff
 * against the current revision; publishing then starts the chosen rollout (the first revision is current at
 * once). While a rollout of the policy is under way no other can start, so Publish waits for it.
 *
 *   editing --(valid) Review--> reviewed --Publish--> published (rollout started)
 *      ^                           |
 *      +----- any edit ------------+
 */
import { useMemo, useState } from 'react';
import { diffConfigs } from '@sluice/shared/fleet/diff';
import { publishRevision, startRollout, validateConfig, type RevisionView } from '../../api/policies.ts';
import { useClient } from '../../app/client-context.ts';
import { ActionOutcome } from '../../ui/states.tsx';
import { useAction } from '../../ui/use-action.ts';
import { checkConfigText, placeProblems, type PlacedProblem } from './config-check.ts';
import { ConfigEditor } from './config-editor.tsx';
import { DiffView } from './diff-view.tsx';
import { RolloutForm } from './rollout-form.tsx';
import { DEFAULT_ROLLOUT_OPTIONS, strategyOf, type RolloutOptions } from './rollout-options.ts';

const EMPTY_PIPELINE = '{\n  "sources": []\n}\n';

export const configText = (current: RevisionView | null): string => (current ? `${JSON.stringify(current.config, null, 2)}\n` : EMPTY_PIPELINE);

export interface PublishPanelProps {
  policy: string;
  current: RevisionView | null;
  /** A rollout of the policy is under way: publishing would be refused its rollout. */
  rolloutActive: boolean;
  /** The agents a named canary can be chosen from. */
  agentIds: readonly string[];
  /** False for a viewer: the pipeline is shown, not edited. */
  canPublish: boolean;
  onPublished: () => void;
}

export function PublishPanel({ policy, current, rolloutActive, agentIds, canPublish, onPublished }: PublishPanelProps) {
  const client = useClient();
  const [text, setText] = useState(() => configText(current));
  const [serverProblems, setServerProblems] = useState<PlacedProblem[]>([]);
  const [review, setReview] = useState<{ config: Record<string, unknown> } | null>(null);
  const [options, setOptions] = useState<RolloutOptions>(DEFAULT_ROLLOUT_OPTIONS);
  const [message, setMessage] = useState('');
  const { busy, error, run } = useAction();
  const [done, setDone] = useState<string | null>(null);
  const check = useMemo(() => checkConfigText(text), [text]);
  const strategy = strategyOf(options);
  const first = current === null;

  function edit(next: string) {
    setText(next);
    setServerProblems([]);
    setReview(null);
    setDone(null);
  }

  const reviewIt = () =>
    run(async () => {
      if (!check.ok) return;
      const answer = await validateConfig(client, policy, check.config);
      if (!answer.ok || !answer.config) setServerProblems(placeProblems(text, answer.problems));
      else setReview({ config: answer.config });
    });

  const publish = () =>
    run(async () => {
      if (!check.ok || !strategy.ok) return;
      const revision = await publishRevision(client, policy, check.config, message);
      if (!first) await startRollout(client, policy, { revision: revision.number, strategy: strategy.strategy });
      setReview(null);
      setDone(first ? `Revision ${String(revision.number)} published; it is current.` : `Revision ${String(revision.number)} published; its rollout started.`);
      onPublished();
    });

  if (!canPublish) {
    return (
      <section className="publish-panel" aria-labelledby="edit-title">
        <h2 id="edit-title">Pipeline</h2>
        <p className="notice">You are signed in as a viewer: you can read the pipeline, publishing needs the operator role.</p>
        <ConfigEditor text={text} onChange={() => undefined} check={check} serverProblems={[]} readOnly />
      </section>
    );
  }

  // Publish needs a reviewed, valid edit (any edit drops the review) and, after the first, a valid rollout.
  const canPublishNow = review !== null && check.ok && !busy && (first || (strategy.ok && !rolloutActive));
  return (
    <section className="publish-panel" aria-labelledby="edit-title">
      <h2 id="edit-title">Edit the pipeline</h2>
      <ConfigEditor text={text} onChange={edit} check={check} serverProblems={serverProblems} />
      <div className="toolbar">
        <button type="button" disabled={!check.ok || busy} onClick={() => void reviewIt()}>
          Review changes
        </button>
        <button type="button" className="secondary" disabled={text === configText(current)} onClick={() => edit(configText(current))}>
          Discard edits
        </button>
      </div>
      <ActionOutcome error={error} done={done} />
      {review && (
        <div className="review">
          <DiffView changes={diffConfigs(current?.config ?? {}, review.config)} caption={current ? `revision ${String(current.number)} → your edit` : 'nothing → your edit'} />
          {!first && <RolloutForm options={options} onChange={setOptions} agentIds={agentIds} />}
          {!first && !strategy.ok && (
            <ul className="errors" aria-label="Rollout problems">
              {strategy.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
          {!first && rolloutActive && <p className="notice">A rollout of this policy is under way: let it finish, or abort or roll it back, before publishing another.</p>}
          <label>
            Message
            <input value={message} onChange={(e) => setMessage(e.target.value)} placeholder="what changed, and why" />
          </label>
        </div>
      )}
      <div className="toolbar">
        <button type="button" className="primary" disabled={!canPublishNow} onClick={() => void publish()}>
          {first ? 'Publish' : options.kind === 'staged' ? 'Publish and start staged rollout' : 'Publish to all agents'}
        </button>
        {review === null && <span className="sub">{check.ok ? 'Review the changes to publish them.' : 'Fix the problems above to publish.'}</span>}
      </div>
    </section>
  );
}
