import { Ajv, type ValidateFunction } from 'ajv';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { dropSourceConfigSchema, type DropSourceConfig } from '@sluice/shared/agent-config/drop';
import { httpPollSourceConfigSchema, type HttpPollSourceConfig } from '@sluice/shared/agent-config/http-poll';
import { httpPushSourceConfigSchema, type HttpPushSourceConfig } from '@sluice/shared/agent-config/http-push';
import { mqttSourceConfigSchema, type MqttSourceConfig } from '@sluice/shared/agent-config/mqtt';

// Sources read their defaults from the config, not from fallbacks in code, so a test that builds a source
// without the loader gets the schema's defaults the same way the loader applies them.
const ajv = new Ajv({ strict: true, useDefaults: true, discriminator: true, allErrors: true });

/** A source config as a user writes it: options with a default may be left out. */
type Written<S extends JSONSchema> = FromSchema<S, { keepDefaultedPropertiesOptional: true }>;
export type DropSourceInput = Written<typeof dropSourceConfigSchema>;
export type HttpPollSourceInput = Written<typeof httpPollSourceConfigSchema>;
export type HttpPushSourceInput = Written<typeof httpPushSourceConfigSchema>;
export type MqttSourceInput = Written<typeof mqttSourceConfigSchema>;

const validators = new Map<object, ValidateFunction>();

function withDefaults<T>(schema: object, input: unknown): T {
  let validate = validators.get(schema);
  if (validate === undefined) validators.set(schema, (validate = ajv.compile(schema)));
  const config: unknown = structuredClone(input);
  if (!validate(config)) throw new Error(`test source config is invalid: ${ajv.errorsText(validate.errors)}`);
  return config as T;
}

export const dropConfig = (input: DropSourceInput): DropSourceConfig => withDefaults(dropSourceConfigSchema, input);
export const httpPollConfig = (input: HttpPollSourceInput): HttpPollSourceConfig => withDefaults(httpPollSourceConfigSchema, input);
export const httpPushConfig = (input: HttpPushSourceInput): HttpPushSourceConfig => withDefaults(httpPushSourceConfigSchema, input);
export const mqttConfig = (input: MqttSourceInput): MqttSourceConfig => withDefaults(mqttSourceConfigSchema, input);
