/**
 * Where the agent's control plane is. A local setting (never part of a pushed pipeline config): with it the
 * agent checks that every dataset its sources name is registered, at `sluice-agent validate` and while it
 * runs, because a record of an unregistered dataset can only end in the DLQ.
 */
export const controlPlaneConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'apiKey'],
  properties: {
    url: { type: 'string', pattern: '^https?://', description: 'base URL of the control plane API, e.g. https://sluice.example.com:8080' },
    /** A viewer key is enough; use `${env:NAME}` (the loader substitutes it; status and --print redact it). */
    apiKey: { type: 'string', minLength: 1 },
    datasetCheckIntervalMs: { type: 'integer', minimum: 1000, default: 300_000, description: 'how often the running agent checks its datasets again' },
    timeoutMs: { type: 'integer', minimum: 100, default: 5000 },
  },
} as const;
