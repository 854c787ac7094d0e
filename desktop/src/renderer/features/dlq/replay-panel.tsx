/**
 * Dry run and replay, of the chosen entries or of every entry of the filter. A dry run checks the entries'
 * original records against a chosen schema version (default: each dataset's latest, which a replay meets)
 * and changes nothing; a replay asks to be confirmed first.
 *
 *   idle --Dry run--> checked (result shown) --any change of scope, version, filter or choice--> idle
 *   idle | checked --Replay…--> confirming --Replay--> replaying (progress) --> replayed (shown until the next run)
 */
import { useState } from 'react';
import type { DatasetViewResponse } from '../../api/datasets.ts';
import { dryRunDlq, replayDlq, replayFilter, type DlqDryRunBody, type DlqDryRunResponse, type DlqEntryView, type ReplayProgress } from '../../api/dlq.ts';
import { useClient } from '../../app/client-context.ts';
import { OptionSelect } from '../../ui/option-select.tsx';
import { ErrorState } from '../../ui/states.tsx';
import { useAction } from '../../ui/use-action.ts';
import { apiFilter, describeFilter, type DlqScreenFilter } from './dlq-filter.ts';
import { entryCount, pinnableDataset } from './dlq-view.ts';
import { DryRunResult, ReplayResult } from './run-results.tsx';

type Scope = 'chosen' | 'filter';

interface Props {
  filter: DlqScreenFilter;
  chosen: readonly DlqEntryView[];
  /** Entries matching the filter. */
  matched: number;
  datasets: readonly DatasetViewResponse[];
  /** Dry runs and replays are the operator's (and admin's). */
  canOperate: boolean;
  onReplayed: () => void;
}

export function ReplayPanel({ filter, chosen, matched, datasets, canOperate, onReplayed }: Props) {
  const client = useClient();
  const [scopeChoice, setScope] = useState<Scope>('chosen');
  const scope: Scope = chosen.length === 0 ? 'filter' : scopeChoice;
  // The version chosen, for the dataset it was chosen for: another dataset starts at latest again.
  const [versionOf, setVersionOf] = useState<{ dataset: string | undefined; version: string }>({ dataset: undefined, version: '' });
  const [force, setForce] = useState(false);
  const { busy, error, run } = useAction();
  const [confirming, setConfirming] = useState(false);
  const [checked, setChecked] = useState<{ key: string; result: DlqDryRunResponse } | undefined>(undefined);
  const [replayed, setReplayed] = useState<{ progress: ReplayProgress; done: boolean } | undefined>(undefined);

  const pinnable = pinnableDataset(filter.dataset, scope === 'chosen' ? chosen : []);
  const version = versionOf.dataset === pinnable ? versionOf.version : '';
  const versions = datasets.find((d) => d.spec.name === pinnable)?.versions ?? [];
  const pinned = pinnable !== undefined && version !== '' ? { dataset: pinnable, version: Number(version) } : undefined;
  const ids = chosen.map((e) => e.id);
  // What the shown results are about: a result of another scope, version or choice is not shown.
  const key = JSON.stringify([scope, scope === 'chosen' ? ids : apiFilter(filter), pinned ?? null]);
  const count = scope === 'chosen' ? chosen.length : matched;

  const dryRun = () =>
    run(async () => {
      setReplayed(undefined);
      const body: DlqDryRunBody = { ...(scope === 'chosen' ? { ids } : { filter: apiFilter(filter) }), ...(pinned ? { against: pinned } : {}), samples: 10 };
      setChecked({ key, result: await dryRunDlq(client, body) });
    });

  const replay = () =>
    run(async () => {
      setConfirming(false);
      setChecked(undefined);
      if (scope === 'chosen') {
        const answer = await replayDlq(client, { ids, ...(force ? { force: true } : {}) });
        setReplayed({ progress: { replayed: answer.replayed.length, skipped: answer.skipped, remaining: 0 }, done: true });
      } else {
        const progress = await replayFilter(client, apiFilter(filter), (p) => setReplayed({ progress: p, done: false }));
        setReplayed({ progress, done: true });
      }
      onReplayed();
    });

  return (
    <section className="replay-panel" aria-labelledby="replay-title">
      <h2 id="replay-title">Dry run and replay</h2>
      <div className="toolbar">
        <fieldset className="scope">
          <legend>Entries</legend>
          <label className="checkbox">
            <input type="radio" name="scope" checked={scope === 'chosen'} disabled={chosen.length === 0} onChange={() => setScope('chosen')} />
            the chosen ones ({chosen.length})
          </label>
          <label className="checkbox">
            <input type="radio" name="scope" checked={scope === 'filter'} onChange={() => setScope('filter')} />
            all {matched} of the filter
          </label>
        </fieldset>
        <OptionSelect
          label="Schema version"
          value={version}
          disabled={pinnable === undefined}
          options={[['', pinnable === undefined ? 'latest of each dataset' : 'latest'], ...[...versions].reverse().map((v) => [String(v.version), `version ${String(v.version)} of ${pinnable ?? ''}`] as const)]}
          onChange={(chosenVersion) => setVersionOf({ dataset: pinnable, version: chosenVersion })}
        />
        {canOperate && (
          <>
            <button type="button" onClick={() => void dryRun()} disabled={busy || count === 0}>
              Dry run
            </button>
            <button type="button" className="secondary" onClick={() => setConfirming(true)} disabled={busy || count === 0}>
              Replay…
            </button>
          </>
        )}
      </div>
      <p className="sub">
        {scope === 'chosen' ? `${entryCount(chosen.length)} chosen` : `${describeFilter(filter)}: ${entryCount(matched)}`}. A replay sends each original record back to its topic; it
        is loaded once however often it is replayed.
        {!canOperate && ' Dry runs and replays need the operator role.'}
      </p>
      {confirming && (
        <div className="confirm" role="group" aria-label="Confirm the replay">
          <p>
            Replay {scope === 'chosen' ? entryCount(chosen.length) : `every never-replayed entry of the filter (${describeFilter(filter)})`}?
          </p>
          {scope === 'chosen' && (
            <label className="checkbox">
              <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
              also entries replayed before
            </label>
          )}
          <button type="button" onClick={() => void replay()}>
            Replay
          </button>
          <button type="button" className="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      {error !== undefined && <ErrorState error={error} />}
      {checked?.key === key && <DryRunResult result={checked.result} />}
      {replayed && <ReplayResult progress={replayed.progress} done={replayed.done} />}
    </section>
  );
}
