import { envelopeSchema } from '../envelope.ts';

/**
 * Fields every source has. A source id is part of each record id it produces (record-id.ts), so it has one
 * rule for all kinds: stable, readable, and without the ':' that separates id parts.
 */
export const sourceIdProperty = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$' } as const;

/** Dataset names double as topic suffixes, SQL identifiers and index names: the envelope's rule. */
export const datasetProperty = envelopeSchema.$defs.datasetName;
