/**
 * POST /api/v1/alerts/webhook: where the stack's Alertmanager sends notifications by default (its viewer key,
 * the one Prometheus scrapes with). Each alert is logged once per notification, firing at warn and resolved
 * at info, and counted in sluice_alert_notifications_total{alertname, status}; nothing is stored or changed,
 * so a viewer key is enough. Real paging goes through Alertmanager's own receivers (docs/analytics.md).
 */
import type { FastifyPluginAsync } from 'fastify';
import { Counter } from 'prom-client';
import { alertWebhookBodySchema, alertWebhookResponseSchema, type AlertWebhookBody, type AlertWebhookResponse } from '@sluice/shared/api/alerts';
import { errorResponses } from '@sluice/shared/api/error-body';
import { METRICS } from '@sluice/shared/metric-names';
import type { ServerDeps } from '../server-deps.ts';

export function alertRoutes(deps: Pick<ServerDeps, 'metrics' | 'logger'>): FastifyPluginAsync {
  return async (app) => {
    const notifications = new Counter({
      name: METRICS.alertNotifications,
      help: 'Alerts received from Alertmanager at POST /api/v1/alerts/webhook, by rule and status',
      labelNames: ['alertname', 'status'],
      registers: [deps.metrics.registry],
    });
    app.post<{ Body: AlertWebhookBody; Reply: AlertWebhookResponse }>(
      '/alerts/webhook',
      {
        config: { auth: 'viewer' },
        schema: {
          tags: ['alerts'],
          summary: "Alertmanager's webhook receiver: logs and counts each alert of a notification",
          body: alertWebhookBodySchema,
          response: { 200: alertWebhookResponseSchema, ...errorResponses },
        },
      },
      (request) => {
        for (const alert of request.body.alerts) {
          const alertname = alert.labels?.alertname ?? '(none)';
          notifications.inc({ alertname, status: alert.status });
          const entry = { alert: alertname, status: alert.status, labels: alert.labels, annotations: alert.annotations, startsAt: alert.startsAt, receiver: request.body.receiver };
          if (alert.status === 'firing') deps.logger.warn(entry, 'alert firing');
          else deps.logger.info(entry, 'alert resolved');
        }
        return { received: request.body.alerts.length };
      },
    );
    await Promise.resolve();
  };
}
