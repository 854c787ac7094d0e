import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { METRICS } from '@sluice/shared/metric-names';

// The alert rules and the Grafana dashboard may only query series the agent and control plane export.
const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');
const known = new Set<string>([...Object.values(METRICS), 'up']);

function seriesIn(expr: string): string[] {
  const names = expr.match(/\b(?:sluice_[a-z0-9_]+|[a-z0-9_]+_total)\b/g) ?? [];
  return names.map((name) => name.replace(/_(bucket|sum|count)$/, ''));
}

describe('monitoring config uses the shared metric names', () => {
  it('alerts.yml', () => {
    const rules = parse(read('../../deploy/prometheus/alerts.yml')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const exprs = rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
    expect(exprs.length).toBeGreaterThan(5);
    for (const expr of exprs) for (const name of seriesIn(expr)) expect(known, expr).toContain(name);
  });

  it('the Grafana dashboard', () => {
    const dashboard = JSON.parse(read('../../deploy/grafana/dashboards/sluice-pipeline.json')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    for (const expr of exprs) for (const name of seriesIn(expr)) expect(known, expr).toContain(name);
  });
});
