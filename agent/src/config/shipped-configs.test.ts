import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from './load-config.ts';

// The configs users start from: `npm start` runs the example, docker-compose mounts the deploy one.
const shipped = ['../../examples/agent.yaml', '../../../deploy/agent/agent.yaml'].map((p) => fileURLToPath(new URL(p, import.meta.url)));

describe('shipped agent configs', () => {
  it.each(shipped)('%s is valid', (file) => {
    const { config } = loadConfigFile(file);
    expect(config.sources.length).toBeGreaterThan(0);
    expect(config.sources.some((s) => s.type === 'drop')).toBe(true);
  });
});
