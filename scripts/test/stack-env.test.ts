import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { feedStackEnv, loadStackEnv, parseEnvFile, readStackEnvFile } from '@sluice/shared/node/stack-env';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Production modules: what the services run, without tests and test support. */
function productionFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'testing' || entry.name === 'test' ? [] : productionFiles(path);
    return /\.(ts|js)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) ? [path] : [];
  });
}

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

  it('feeds the file into an environment where it has nothing (npm start, the integration tests), the environment winning', () => {
    const env: NodeJS.ProcessEnv = { SLUICE_PG_URL: 'postgres://me@db.example/sluice', SLUICE_SEARCH_URL: '' };
    feedStackEnv(env);
    const file = readStackEnvFile();
    expect(env).toMatchObject({ SLUICE_PG_URL: 'postgres://me@db.example/sluice', SLUICE_SEARCH_URL: file.SLUICE_SEARCH_URL, SLUICE_S3_SECRET_KEY: file.SLUICE_S3_SECRET_KEY });
  });

  it('is dev tooling only: no module the agent or the control plane runs imports it', () => {
    const files = ['agent/src', 'agent/bin', 'control-plane/src', 'control-plane/bin', 'shared/src', 'shared/node'].flatMap(productionFiles);
    expect(files.length).toBeGreaterThan(50);
    const importers = files.filter((file) => /(from|import\()\s*['"][^'"]*stack-env(\.ts)?['"]/.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(importers.map((file) => relative('.', file))).toEqual([]);
  });
});
