import type { FromSchema } from 'json-schema-to-ts';
import { ERROR_NAMES } from '../errors.ts';

/**
 * The one error body every route answers with (see ../errors.ts for the names and their statuses), as a
 * response schema, so OpenAPI shows it and the console's client reads it typed.
 */
export const errorBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'message'],
      properties: {
        name: { enum: ERROR_NAMES },
        message: { type: 'string' },
        // Free-form by design (JSON paths with reasons, a compatibility report, the earlier replay): any JSON.
        details: { description: 'where the problem is, when the client can act on it' },
      },
    },
  },
} as const;

export type ErrorBodyResponse = FromSchema<typeof errorBodySchema>;

/** Every route can fail: a client error (4xx) or a dependency that is down (503) / a bug (500). */
export const errorResponses = { '4xx': errorBodySchema, '5xx': errorBodySchema } as const;
