// Issue 8, item 7: a real `sluice-agent` never ships what a symbolic link leads to outside allowedRoots.
// `validate` names such links; `run` refuses them (listed in /status) and ships only what is inside.
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readWireEnvelope } from '@sluice/shared/envelope-wire';
import { agentStatus, consume, kill9, setupAgent, spawnAgent } from './support/agent-process.ts';

const BIN = path.join(import.meta.dirname, '../bin/sluice-agent.js');

describe('file source confinement (real agent, real Kafka)', () => {
  it('validate reports links out of allowedRoots; run refuses them and ships only what is inside', async () => {
    const setup = setupAgent('confine', (logs) => `  - { type: file, id: tail, dataset: lines, include: ["${logs}/**/*"] }\n`);
    const outside = path.join(setup.dir, 'outside'); // beside ./logs, not in allowedRoots
    mkdirSync(path.join(outside, 'dir'), { recursive: true });
    writeFileSync(path.join(outside, 'dir', 'x.log'), 'outside dir line\n');
    mkdirSync(path.join(setup.logs, 'sub'));
    writeFileSync(path.join(setup.logs, 'app.log'), 'app line 1\napp line 2\n');
    writeFileSync(path.join(setup.logs, 'sub', 'real.log'), 'real line\n');
    symlinkSync('/etc/hostname', path.join(setup.logs, 'hostname'));
    symlinkSync(path.join(outside, 'dir'), path.join(setup.logs, 'elsewhere'));
    symlinkSync(path.join(setup.logs, 'sub', 'real.log'), path.join(setup.logs, 'alias.log')); // inside: fine

    const validate = spawnSync(process.execPath, [BIN, 'validate', '--config', setup.configFile], { encoding: 'utf8' });
    expect(validate.status).toBe(1);
    expect(validate.stderr).toContain(`sources[0].include[0]: ${path.join(setup.logs, 'hostname')} is a symbolic link to /etc/hostname, outside allowedRoots`);
    expect(validate.stderr).toContain(`${path.join(setup.logs, 'elsewhere')} is a symbolic link to ${path.join(outside, 'dir')}, outside allowedRoots`);
    expect(validate.stderr).not.toContain('alias.log');

    const agent = spawnAgent(setup);
    try {
      let refused: Array<{ path: string; target: string }> = [];
      for (let i = 0; i < 100 && refused.length < 2; i++) {
        await sleep(100);
        refused = ((await agentStatus(setup))?.sources[0]?.details as { refused?: typeof refused } | undefined)?.refused ?? [];
      }
      expect(refused.map((r) => [path.basename(r.path), r.target]).sort()).toEqual([
        ['elsewhere', path.join(outside, 'dir')],
        ['hostname', '/etc/hostname'],
      ]);
      const seen: string[] = [];
      await consume(`${setup.topicPrefix}lines`, (batch) => {
        for (const m of batch) seen.push((readWireEnvelope(m.key, m.value, m.headers).payload as { message: string }).message);
        return false; // read all there is until the timeout
      }, 8000);
      expect(seen.sort()).toEqual(['app line 1', 'app line 2', 'real line']);
    } finally {
      await kill9(agent);
    }
  }, 120_000);
});
