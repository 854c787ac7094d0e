// Issue 8, item 7: validate looks at what the include patterns match and names every link out of allowedRoots.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { includeLinkProblems } from './include-links.ts';
import { parseConfig } from './load-config.ts';

describe('includeLinkProblems', () => {
  it('reports links to a file and a folder outside allowedRoots with their paths, not links inside', () => {
    const base = mkdtempSync(path.join(tmpdir(), 'sluice-links-'));
    const logs = path.join(base, 'logs');
    const outside = path.join(base, 'outside');
    mkdirSync(path.join(logs, 'sub'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'hostname'), 'h\n');
    writeFileSync(path.join(logs, 'sub', 'app.log'), 'a\n');
    symlinkSync(path.join(outside, 'hostname'), path.join(logs, 'host'));
    symlinkSync(outside, path.join(logs, 'sub', 'etc'));
    symlinkSync(path.join(logs, 'sub', 'app.log'), path.join(logs, 'alias'));
    symlinkSync(path.join(logs, 'sub'), path.join(logs, 'subalias'));
    const yaml =
      `agentId: edge-1\nkafka: { brokers: ["127.0.0.1:9092"] }\nallowedRoots: [./logs]\nsources:\n` +
      `  - { type: file, id: deep, dataset: app, include: ["./logs/**/*"] }\n` +
      `  - { type: file, id: flat, dataset: app, include: ["./logs/*.log", "./logs/h*"] }\n`;
    const config = parseConfig(yaml, base, {});
    expect(includeLinkProblems(config, base).map((p) => `${p.path}: ${p.reason}`).sort()).toEqual([
      `sources[0].include[0]: ${path.join(logs, 'host')} is a symbolic link to ${path.join(outside, 'hostname')}, outside allowedRoots: the agent will not read it`,
      `sources[0].include[0]: ${path.join(logs, 'sub', 'etc')} is a symbolic link to ${outside}, outside allowedRoots: the agent will not read it`,
      // The flat source does not descend into folders, and only its second pattern matches `host`.
      `sources[1].include[1]: ${path.join(logs, 'host')} is a symbolic link to ${path.join(outside, 'hostname')}, outside allowedRoots: the agent will not read it`,
    ]);
  });
});
