import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './load-config.ts';
import { redact } from './redact.ts';

const base = mkdtempSync(path.join(tmpdir(), 'sluice-config-'));
mkdirSync(path.join(base, 'logs'));

function problemsOf(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, base, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
  return [];
}

const head = `agentId: edge-1\nkafka: { brokers: ["127.0.0.1:9092"] }\nallowedRoots: [./logs]\n`;

describe('parseConfig', () => {
  it('fills defaults and derives a typed config', () => {
    const config = parseConfig(`${head}sources:\n  - { type: file, id: app, dataset: app_logs, include: ["./logs/*.log"] }\n`, base, {});
    expect(config.outbox.synchronous).toBe('NORMAL');
    expect(config.kafka.topicPrefix).toBe('sluice.');
    expect(config.kafka.compression).toBe('lz4');
    const source = config.sources[0];
    expect(source?.type).toBe('file');
    if (source?.type === 'file') {
      expect(source.maxLineBytes).toBe(1024 * 1024);
      expect(source.startAt).toBe('beginning');
    }
  });

  it('names the path and the reason of every problem, one per line', () => {
    const lines = problemsOf(
      `agentId: "bad:id"\nkafka: { brokers: [] , compression: brotli }\nallowedRoots: [./logs]\nbogus: 1\nsources:\n` +
        `  - { type: file, id: a, dataset: app, include: ["./logs/*.log"] }\n` +
        `  - { type: file, id: a, dataset: App, include: ["/etc/*.conf"] }\n` +
        `  - { type: nope, id: c }\n`,
    );
    expect(lines).toContain('agentId: must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$');
    expect(lines).toContain('kafka.brokers: must NOT have fewer than 1 items');
    expect(lines).toContain('kafka.compression: must be one of "lz4", "zstd", "gzip", "none"');
    expect(lines).toContain('bogus: is not a known option');
    expect(lines).toContain('sources[1].dataset: must match ^[a-z][a-z0-9_]{0,62}$');
    expect(lines).toContain('sources[2].type: must be one of "file", "drop", "http-poll", "http-push", "mqtt"');
  });

  it('a mistyped pagination type is one line naming the valid values', () => {
    const lines = problemsOf(`${head}sources:\n  - { type: http-poll, id: p, dataset: app, url: "http://127.0.0.1/x", pagination: { type: pages, param: p } }\n`);
    expect(lines).toEqual(['sources[0].pagination.type: must be one of "none", "link-header", "cursor", "page", "offset"']);
  });

  it('checks folders against allowedRoots after resolving symlinks, and unique ids', () => {
    const link = path.join(base, 'logs', 'escape');
    symlinkSync('/etc', link);
    const lines = problemsOf(
      `${head}sources:\n  - { type: file, id: a, dataset: app, include: ["./logs/escape/*.conf"] }\n` +
        `  - { type: file, id: a, dataset: app, include: ["./logs/**/*.log"] }\n` +
        `  - { type: drop, id: d, dataset: app, path: /tmp }\n`,
    );
    expect(lines).toEqual([
      'sources[0].include[0]: must be inside an allowed folder (allowedRoots)',
      'sources[1].id: duplicates sources[0].id "a"',
      'sources[2].path: must be inside an allowed folder (allowedRoots)',
    ]);
  });

  it('substitutes ${env:NAME} in values and reports a missing variable with its path', () => {
    const yaml = `${head}http: { token: "\${env:AGENT_TOKEN}" }\nsources:\n  - { type: http-push, id: p, dataset: app, token: "\${env:PUSH_TOKEN}" }\n`;
    expect(problemsOf(yaml, { AGENT_TOKEN: 'abcdefgh12' })).toEqual(['sources[0].token: environment variable PUSH_TOKEN is not set']);
    const config = parseConfig(yaml, base, { AGENT_TOKEN: 'abcdefgh12', PUSH_TOKEN: 'p'.repeat(20) });
    expect(config.http.token).toBe('abcdefgh12');
    const shown = JSON.stringify(redact(config));
    expect(shown).not.toContain('abcdefgh12');
    expect(shown).not.toContain('p'.repeat(20));
    expect(shown).toContain('[redacted]');
  });

  it('requires http.token unless http.listen is a loopback address, naming the path', () => {
    const withListen = (listen: string, token = ''): string => `${head}http: { listen: "${listen}"${token ? `, token: "${token}"` : ''} }\n`;
    for (const listen of ['0.0.0.0:8686', ':::8686', '[::]:8686', '192.168.1.10:8686', 'localhost:8686', 'agent:8686']) {
      const problems = problemsOf(withListen(listen));
      expect(problems, listen).toHaveLength(1);
      expect(problems[0], listen).toMatch(/^http\.token: is required because http\.listen \(.+\) is not a loopback address \(127\.0\.0\.1 or ::1\)/);
      expect(problemsOf(withListen(listen, 'agent-secret-1')), listen).toEqual([]);
    }
    for (const listen of ['127.0.0.1:8686', '127.0.0.1:0', '[::1]:8686', '::1:8686', ':8686']) expect(problemsOf(withListen(listen)), listen).toEqual([]);
    expect(problemsOf(head)).toEqual([]);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problemsOf('agentId: [unclosed\n')[0]).toMatch(/^line \d+: /);
  });
});
