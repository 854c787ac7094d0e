import { describe, expect, it } from 'vitest';
import { loadStackEnv, parseEnvFile } from '@sluice/shared/node/stack-env';

describe('stack env loader', () => {
  it('parses the bash-sourceable format', () => {
    expect(parseEnvFile('# comment\nA=1\nexport B="two words"\n\nC=\'x\'\nnot a line\n')).toEqual({
      A: '1',
      B: 'two words',
      C: 'x',
    });
  });

  it('reads scripts/stack.env and lets the environment override it', () => {
    const defaults = loadStackEnv({});
    expect(defaults.kafkaBrokers).toEqual(['127.0.0.1:9092']);
    expect(defaults.kafkaBrokers3).toHaveLength(3);
    expect(defaults.s3).toMatchObject({ host: '127.0.0.1', port: 9000, useSSL: false });

    const overridden = loadStackEnv({ SLUICE_KAFKA_BROKERS: 'a:1,b:2', SLUICE_PG_PORT: '6543' });
    expect(overridden.kafkaBrokers).toEqual(['a:1', 'b:2']);
    expect(overridden.pgPort).toBe(6543);
    expect(overridden.searchUrl).toBe(defaults.searchUrl);
  });

  it('names what is missing', () => {
    expect(() => loadStackEnv({}, '/nonexistent/stack.env')).toThrow(/SLUICE_KAFKA_BROKERS.*not set/);
  });
});
