import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderAgentConfigDocs } from '../config-docs/render-agent-config.ts';

// docs/agent-config.md is generated from the agent config schema; a schema change without `npm run
// docs:config` leaves the page describing options, defaults or limits the agent no longer has.
describe('agent config reference', () => {
  it('docs/agent-config.md is what `npm run docs:config` generates from the schema', () => {
    const committed = readFileSync(new URL('../../docs/agent-config.md', import.meta.url), 'utf8');
    expect(committed === renderAgentConfigDocs(), 'docs/agent-config.md is stale: run `npm run docs:config`').toBe(true);
  });

  it('lists every option of every source with its default', () => {
    const page = renderAgentConfigDocs();
    for (const kind of ['file', 'drop', 'http-poll', 'http-push']) expect(page).toContain(`### ${kind}\n`);
    expect(page).toContain('| `completion.stableMs` | integer (≥ 0, ≤ 3600000) | `2000` |');
    expect(page).toContain('| `pagination.size` | integer (≥ 1) | `100` | With `type: page`:');
    expect(page).toContain('| `outbox.synchronous` | `"FULL"` \\| `"NORMAL"` \\| `"OFF"` | `"NORMAL"` |');
  });
});
