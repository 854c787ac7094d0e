/**
 * POST /api/v1/datasets/:name/dry-run (docs/transforms.md, "Dry run"): sample payloads through a version's
 * processing — transforms, event time, schema, quality rules — by the consumer's own intake
 * (consumer/record-intake.ts), so what it answers is what the consumer would do. Nothing is stored or counted.
 * A proposed schema, transforms or rules replace the stored version's, to try them before publishing.
 */
import type { DryRunBody, DryRunResponse } from '@sluice/shared/api/datasets';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { CONTENT_TYPES, KAFKA_HEADERS, type Envelope } from '@sluice/shared/envelope';
import { NotFoundError } from '@sluice/shared/errors';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import { BatchLookups } from '../consumer/batch-lookups.ts';
import { RecordIntake } from '../consumer/record-intake.ts';
import { ControlPlaneMetrics } from '../metrics/metrics.ts';
import type { ReferenceData, RuleOutcome } from './record-processor.ts';
import { checkProcessing } from './record-processor.ts';
import { ValidatorCache } from './validators.ts';

export interface DryRunDeps {
  datasets: {
    latest(name: string): Promise<DatasetVersion | undefined>;
    version(name: string, version: number): Promise<{ version: number; schema: Record<string, unknown>; transforms: DatasetVersion['transforms']; rules: DatasetVersion['rules'] }>;
  };
  refs: ReferenceData;
}

export class DatasetDryRun {
  readonly #deps: DryRunDeps;
  // The intake counts what it refuses; a dry run's counts go to a registry nobody scrapes.
  readonly #metrics = new ControlPlaneMetrics();

  constructor(deps: DryRunDeps) {
    this.#deps = deps;
  }

  async run(name: string, body: DryRunBody): Promise<DryRunResponse> {
    const latest = await this.#deps.datasets.latest(name);
    if (!latest) throw NotFoundError(`dataset ${name} does not exist`);
    const stored = body.version === undefined ? latest : { spec: latest.spec, ...(await this.#deps.datasets.version(name, body.version)) };
    const proposed = body.proposed ?? {};
    ValidatorCache.assertValidSchema(proposed.schema ?? stored.schema);
    checkProcessing(proposed.transforms, proposed.rules);
    const version: DatasetVersion = {
      spec: stored.spec,
      version: stored.version,
      schema: proposed.schema ?? stored.schema,
      transforms: proposed.transforms ?? stored.transforms ?? [],
      rules: proposed.rules ?? stored.rules ?? [],
    };
    const now = new Date().toISOString();
    const messages: IncomingMessage[] = body.records.map((payload, index) => {
      const envelope: Envelope = { id: `dry-run:${index}`, dataset: name, agentId: 'dry-run', source: { id: 'dry-run', kind: 'api' }, eventTime: now, ingestTime: now, payload };
      return { topic: 'dry-run', partition: 0, offset: BigInt(index), key: undefined, value: Buffer.from(JSON.stringify(envelope)), headers: { [KAFKA_HEADERS.contentType]: CONTENT_TYPES.envelope }, timestamp: BigInt(Date.now()) };
    });
    const outcomes = new Map<string, RuleOutcome[]>();
    const intake = new RecordIntake({ maxRecordBytes: Infinity, metrics: this.#metrics, refs: this.#deps.refs, quality: { add: (e, o) => void outcomes.set(e.id, [...o]) } });
    const lookups = new BatchLookups({ latest: () => Promise.resolve(version) }, new ValidatorCache(), (_what, operation) => operation());
    const { dead, groups } = await intake.take(messages, lookups);
    const results: DryRunResponse['results'] = [];
    for (const d of dead) {
      const index = Number(d.offset);
      results.push({ index, outcome: 'dead-lettered', reason: d.reason, ...rules(outcomes.get(`dry-run:${index}`)) });
    }
    for (const g of groups) {
      for (const r of g.records) {
        results.push({ index: Number(r.offset), outcome: 'loaded', payload: r.envelope.payload, eventTime: r.envelope.eventTime, ...rules(outcomes.get(r.envelope.id)) });
      }
    }
    results.sort((a, b) => a.index - b.index);
    const warned = results.filter((r) => r.outcome === 'loaded' && r.rules?.some((o) => o.outcome === 'warn')).length;
    const deadLettered = results.filter((r) => r.outcome === 'dead-lettered').length;
    return { dataset: name, version: stored.version, results, summary: { loaded: results.length - deadLettered, deadLettered, warned } };
  }
}

function rules(outcomes: RuleOutcome[] | undefined): { rules?: RuleOutcome[] } {
  return outcomes === undefined ? {} : { rules: outcomes };
}
