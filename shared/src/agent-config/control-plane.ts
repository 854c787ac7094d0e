/** Defaults of the fleet settings, also for a fleet-managed agent whose YAML has no `controlPlane` section. */
export const DEFAULT_CHECKIN_WAIT_SECONDS = 30;
export const DEFAULT_APPLY_TIMEOUT_SECONDS = 60;

export const controlPlaneConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  description:
    'Where the control plane is. With `apiKey` the agent checks that every dataset its sources name is registered, at `sluice-agent validate` and while it runs (a record of an unregistered dataset can only end in the DLQ). A fleet-managed agent takes its URL and credential from enrollment (`<dataDir>/fleet/identity.json`); the check-in and apply settings here apply to it. A local setting, never part of a pushed pipeline config.',
  properties: {
    url: { type: 'string', pattern: '^https?://', description: 'Base URL of the control plane API.', examples: ['https://sluice.example.com:8080'] },
    apiKey: {
      type: 'string',
      minLength: 1,
      description: 'An API key for the dataset check (without it datasets are not checked); a viewer key is enough. Use `${env:NAME}`: `sluice-agent status` and `--print` redact it.',
      examples: ['${env:SLUICE_API_KEY}'],
    },
    datasetCheckIntervalMs: { type: 'integer', minimum: 1000, default: 300_000, description: 'How often the running agent checks its datasets again.' },
    timeoutMs: { type: 'integer', minimum: 100, default: 5000, description: 'Timeout of one request to the control plane.' },
    checkinWaitSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 30,
      default: DEFAULT_CHECKIN_WAIT_SECONDS,
      description: 'Fleet-managed agents: how long one check-in may wait at the control plane for a new config (long-poll).',
    },
    applyTimeoutSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: 3600,
      default: DEFAULT_APPLY_TIMEOUT_SECONDS,
      description: 'Fleet-managed agents: how long every source of a pushed config has to run and commit (or finish its first scan) before the config counts as failed and the last good one is restored.',
    },
  },
} as const;
