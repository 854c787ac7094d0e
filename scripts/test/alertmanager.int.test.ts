import { describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';

const env = loadStackEnv();

describe('alertmanager', () => {
  it('answers /-/ready, runs alone (no cluster) with the Sluice route, and the stack Prometheus sends it its alerts', async () => {
    expect((await fetch(`${env.alertmanagerUrl}/-/ready`)).status).toBe(200);
    const status = (await (await fetch(`${env.alertmanagerUrl}/api/v2/status`)).json()) as { cluster: { status: string }; config: { original: string } };
    expect(status.cluster.status).toBe('disabled');
    expect(status.config.original).toContain('receiver: sluice-webhook');
    const targets = (await (await fetch(`${env.prometheusUrl}/api/v1/alertmanagers`)).json()) as { data: { activeAlertmanagers: Array<{ url: string }> } };
    expect(targets.data.activeAlertmanagers.map((a) => new URL(a.url).host)).toContain(new URL(env.alertmanagerUrl).host);
  });
});
