/**
 * Traffic for the anomaly tests: records per agent and minute from a rate function, with seeded noise so a
 * failure replays the same way, written through the real PostgreSQL sink (rows and panes in one transaction).
 */
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import type { PostgresSink } from '../../src/sinks/postgres/postgres-sink.ts';
import { PANE_MS } from '../../src/analytics/pane-fold.ts';
import { batch } from './sink-fixtures.ts';

export function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rows per minute of each agent: `rate(agent, minute)` ± 15 % noise (0 stays 0). */
export function traffic(ds: DatasetVersion, t0: number, minutes: number, agents: readonly string[], rate: (agent: string, minute: number) => number, seed = 1): Envelope[] {
  const random = seeded(seed);
  const out: Envelope[] = [];
  for (let m = 0; m < minutes; m++) {
    for (const agent of agents) {
      const mean = rate(agent, m);
      const n = mean === 0 ? 0 : Math.max(1, Math.round(mean * (0.85 + 0.3 * random())));
      for (let i = 0; i < n; i++) {
        out.push({
          id: `${ds.spec.name}:${agent}:${m}:${i}`,
          dataset: ds.spec.name,
          agentId: agent,
          source: { id: 'src-1', kind: 'file' },
          eventTime: new Date(t0 + m * PANE_MS + Math.floor((i * PANE_MS) / n)).toISOString(),
          ingestTime: new Date(t0 + m * PANE_MS + 500).toISOString(),
          schemaVersion: 1,
          payload: { site: i % 2 === 0 ? 'north' : 'south', temp: 20 + 2 * random() },
        });
      }
    }
  }
  return out;
}

export async function writeThroughSink(sink: PostgresSink, ds: DatasetVersion, envelopes: readonly Envelope[]): Promise<void> {
  for (let i = 0; i < envelopes.length; i += 2000) {
    const outcome = await sink.write(batch(ds, envelopes.slice(i, i + 2000), BigInt(i)));
    if (outcome.kind !== 'ok') throw new Error(`sink refused the batch: ${JSON.stringify(outcome)}`);
  }
}
