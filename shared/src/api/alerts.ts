import type { FromSchema } from 'json-schema-to-ts';

/**
 * POST /api/v1/alerts/webhook: the default receiver of the stack's Alertmanager (deploy/alertmanager/). The
 * body is Alertmanager's webhook payload (version 4); fields Sluice does not read are accepted as they come.
 */
const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

export const alertWebhookBodySchema = {
  type: 'object',
  required: ['status', 'alerts'],
  properties: {
    version: { type: 'string' },
    status: { enum: ['firing', 'resolved'] },
    receiver: { type: 'string' },
    groupKey: { type: 'string' },
    groupLabels: stringMap,
    commonLabels: stringMap,
    alerts: {
      type: 'array',
      maxItems: 10_000,
      items: {
        type: 'object',
        required: ['status', 'labels'],
        properties: {
          status: { enum: ['firing', 'resolved'] },
          labels: stringMap,
          annotations: stringMap,
          startsAt: { type: 'string' },
          endsAt: { type: 'string' },
          fingerprint: { type: 'string' },
        },
      },
    },
  },
} as const;

export const alertWebhookResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['received'],
  properties: { received: { type: 'integer', description: 'alerts in the notification, each logged' } },
} as const;

export type AlertWebhookBody = FromSchema<typeof alertWebhookBodySchema>;
export type AlertWebhookResponse = FromSchema<typeof alertWebhookResponseSchema>;
