export const controlPlaneConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'apiKey'],
  description:
    'Where the control plane is. With it the agent checks that every dataset its sources name is registered, at `sluice-agent validate` and while it runs (a record of an unregistered dataset can only end in the DLQ). A local setting, never part of a pushed pipeline config.',
  properties: {
    url: { type: 'string', pattern: '^https?://', description: 'Base URL of the control plane API.', examples: ['https://sluice.example.com:8080'] },
    apiKey: {
      type: 'string',
      minLength: 1,
      description: 'An API key; a viewer key is enough. Use `${env:NAME}`: `sluice-agent status` and `--print` redact it.',
      examples: ['${env:SLUICE_API_KEY}'],
    },
    datasetCheckIntervalMs: { type: 'integer', minimum: 1000, default: 300_000, description: 'How often the running agent checks its datasets again.' },
    timeoutMs: { type: 'integer', minimum: 100, default: 5000, description: 'Timeout of one request to the control plane.' },
  },
} as const;
