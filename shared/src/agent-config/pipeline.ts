import type { FromSchema } from 'json-schema-to-ts';
import { dropSourceConfigSchema } from './drop.ts';
import { fileSourceConfigSchema } from './file.ts';
import { httpPollSourceConfigSchema } from './http-poll.ts';
import { httpPushSourceConfigSchema } from './http-push.ts';
import { mqttSourceConfigSchema } from './mqtt.ts';

/** What the agent collects: the one schema of `sources`, in the local YAML and in a policy alike. */
export const sourcesSchema = {
  type: 'array',
  default: [],
  description: 'What the agent collects; each item is one source, chosen by its `type`.',
  items: {
    type: 'object',
    discriminator: { propertyName: 'type' },
    required: ['type'],
    properties: { type: { enum: ['file', 'drop', 'http-poll', 'http-push', 'mqtt'] } },
    oneOf: [fileSourceConfigSchema, dropSourceConfigSchema, httpPollSourceConfigSchema, httpPushSourceConfigSchema, mqttSourceConfigSchema],
  },
} as const;

/**
 * The pipeline: the part of the agent config a policy carries and the control plane pushes. The same source
 * schemas and defaults as the local YAML; nothing of the control channel (see index.ts).
 */
export const pipelineConfigSchema = {
  $id: 'https://sluice.dev/schemas/pipeline-config.json',
  type: 'object',
  additionalProperties: false,
  properties: { sources: sourcesSchema },
} as const;

/** A validated pipeline: defaults applied, so `sources` is always there. */
export type PipelineConfig = Required<FromSchema<typeof pipelineConfigSchema>>;
