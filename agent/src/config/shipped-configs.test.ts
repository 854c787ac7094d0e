import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from './load-config.ts';

// The configs users start from: `npm start` runs the example, docker-compose mounts the deploy one. Both
// take the HTTP token from SLUICE_AGENT_TOKEN (npm start makes it; compose passes it through).
const shipped = ['../../examples/agent.yaml', '../../../deploy/agent/agent.yaml'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
const env = { SLUICE_AGENT_TOKEN: 'shipped-config-test-token' };

describe('shipped agent configs', () => {
  it.each(shipped)('%s is valid', (file) => {
    const { config } = loadConfigFile(file, env);
    expect(config.sources.length).toBeGreaterThan(0);
    expect(config.sources.some((s) => s.type === 'drop')).toBe(true);
    expect(config.http.token).toBe(env.SLUICE_AGENT_TOKEN);
  });

  it.each(shipped)('%s names the token variable it needs when it is missing', (file) => {
    expect(() => loadConfigFile(file, {})).toThrow(/^http\.token: environment variable SLUICE_AGENT_TOKEN is not set$/m);
  });
});
