import { describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';

const env = loadStackEnv();

describe('prometheus', () => {
  it('answers /-/ready and loaded the alert rules from deploy/', async () => {
    const ready = await fetch(`${env.prometheusUrl}/-/ready`);
    expect(ready.status).toBe(200);
    const rules = (await (await fetch(`${env.prometheusUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string }[] }[] };
    };
    const names = rules.data.groups.flatMap((group) => group.rules.map((rule) => rule.name));
    expect(names).toContain('SluiceTargetDown');
    expect(names).toContain('SluiceConsumerLagHigh');
  });
});
