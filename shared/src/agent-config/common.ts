import { envelopeSchema } from '../envelope.ts';

// A source id is part of each record id it produces (record-id.ts), so it has one rule for all kinds.
export const sourceIdProperty = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$',
  description: "The source's name, unique in the config. It is part of every record id the source makes, so keep it stable; no ':'.",
  examples: ['app-logs'],
} as const;

export const datasetProperty = {
  ...envelopeSchema.$defs.datasetName,
  description: 'The dataset its records belong to. The name is also a topic suffix, an SQL identifier and an index name.',
  examples: ['app_logs'],
} as const;
