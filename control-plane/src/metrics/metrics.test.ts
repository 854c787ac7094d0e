import { describe, expect, it } from 'vitest';
import { ControlPlaneMetrics } from './metrics.ts';
import { OVERFLOW_LABEL, UNKNOWN_LABEL } from './bounded-label.ts';

const records = (agents: string[]) => agents.map((agentId, i) => ({ envelope: { id: `r${i}`, agentId } }));

async function samples(metrics: ControlPlaneMetrics, name: string): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  const metric = metrics.registry.getSingleMetric(name);
  return metric ? (await metric.get()).values.map(({ labels, value }) => ({ labels: labels as Record<string, string | number>, value })) : [];
}

describe('ControlPlaneMetrics: record counters by dataset, sink and agent', () => {
  it('splits a batch by the agent that shipped each record and leaves refused ones out', async () => {
    const metrics = new ControlPlaneMetrics();
    const batch = records(['gw-1', 'gw-2', 'gw-1', 'gw-1']);
    metrics.countByAgent(metrics.ingestedRows, { dataset: 'sensors', sink: 'postgres' }, batch, (id) => id !== 'r2');
    metrics.countByAgent(metrics.ingestionErrors, { dataset: 'sensors', sink: 'postgres' }, batch, (id) => id === 'r2');
    expect(await samples(metrics, 'ingested_rows_total')).toEqual([
      { labels: { dataset: 'sensors', sink: 'postgres', agent: 'gw-1' }, value: 2 },
      { labels: { dataset: 'sensors', sink: 'postgres', agent: 'gw-2' }, value: 1 },
    ]);
    expect(await samples(metrics, 'ingestion_errors_total')).toEqual([{ labels: { dataset: 'sensors', sink: 'postgres', agent: 'gw-1' }, value: 1 }]);
  });

  it('bounds the agent label: later agents share "(other)", over-long ids are cut, a missing id is "(unknown)"', async () => {
    const metrics = new ControlPlaneMetrics({ maxAgentLabels: 2 });
    metrics.countByAgent(metrics.ingestedRows, { dataset: 'd', sink: 's' }, records(['a', 'b', 'c', 'd', 'a', 'x'.repeat(300)]));
    expect(metrics.agentLabel(undefined)).toBe(UNKNOWN_LABEL);
    const byAgent: Record<string, number> = Object.fromEntries((await samples(metrics, 'ingested_rows_total')).map((s) => [String(s.labels.agent), s.value]));
    expect(byAgent).toEqual({ a: 2, b: 1, [OVERFLOW_LABEL]: 3 });
    const wide = new ControlPlaneMetrics();
    expect(wide.agentLabel('y'.repeat(300))).toBe('y'.repeat(64));
  });

  it('keeps default metrics but none of prom-client\'s gauges named like counters', async () => {
    const text = await new ControlPlaneMetrics({ defaultMetrics: true }).registry.metrics();
    expect(text).toContain('nodejs_active_handles{');
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).not.toMatch(/^nodejs_active_\w+_total/m);
  });
});
