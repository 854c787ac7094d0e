import type { FromSchema } from 'json-schema-to-ts';

/**
 * The answer of POST /api/v1/ingest/:dataset, shaped like an Elasticsearch bulk response: one result per
 * item, in order. An accepted item carries its record id, a rejected one its reason.
 */
export const ingestResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['requestId', 'errors', 'accepted', 'rejected', 'items'],
  properties: {
    requestId: { type: 'string', description: 'the Idempotency-Key, or the id generated for this request' },
    errors: { type: 'boolean', description: 'whether any item was rejected' },
    accepted: { type: 'integer' },
    rejected: { type: 'integer' },
    items: {
      type: 'array',
      // One flat shape rather than a oneOf: the serializer would test each alternative on every item.
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['index', 'status'],
        properties: {
          index: { type: 'integer' },
          status: { enum: ['accepted', 'rejected'] },
          id: { type: 'string', description: 'the record id (accepted items)' },
          reason: { type: 'string', description: 'why the item was not produced (rejected items)' },
        },
      },
    },
  },
} as const;

export type IngestResponse = FromSchema<typeof ingestResponseSchema>;
