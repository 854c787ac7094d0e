// The layering rules of eslint.config.js, run on an import each: every layer refuses what it must not reach
// and still takes what it may, so a rule that stops matching (a moved folder, a regex typo) fails here.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Linter } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
let layering: Linter.Config[];

beforeAll(async () => {
  const { default: config } = (await import(pathToFileURL(join(root, 'eslint.config.js')).href)) as { default: Linter.Config[] };
  // Only the import bans: the type-aware rules need a TypeScript program, which a one-line snippet lacks.
  layering = config
    .filter((c) => c.rules?.['no-restricted-imports'] !== undefined)
    .map((c) => ({ ...c, rules: { 'no-restricted-imports': c.rules!['no-restricted-imports']! } }));
});

function refused(file: string, specifier: string): boolean {
  const linter = new Linter({ cwd: root });
  const messages = linter.verify(`import x from '${specifier}';\nexport default x;\n`, [{ files: ['**/*.ts', '**/*.tsx'] }, ...layering], join(root, file));
  const fatal = messages.find((m) => m.fatal);
  if (fatal) throw new Error(fatal.message);
  return messages.some((m) => m.ruleId === 'no-restricted-imports');
}

describe('layering (eslint.config.js)', () => {
  it.each([
    ['agent/src/sources/drop/drop-source.ts', '../../runtime/to-message.ts'],
    ['agent/src/sources/source.ts', '../runtime/agent.ts'],
    ['agent/src/sources/file/file-source.ts', '@sluice/agent/runtime/metrics'],
    ['control-plane/src/sinks/postgres/postgres-sink.ts', '../../consumer/pipeline.ts'],
    ['control-plane/src/sinks/sink.ts', '../http/server.ts'],
    ['control-plane/src/sinks/search/search-sink.ts', '@sluice/control-plane/http/errors'],
    ['agent/src/runtime/agent.ts', '../../../control-plane/src/sinks/sink.ts'],
    ['agent/test/drop-kill.int.test.ts', '@sluice/control-plane/consumer/pipeline'],
    ['control-plane/src/consumer/pipeline.ts', '../../../agent/src/outbox/outbox.ts'],
    ['control-plane/test/pipeline.test.ts', '@sluice/agent/runtime/agent'],
    ['desktop/src/renderer/app/app.tsx', '../../main/window.ts'],
    ['desktop/src/renderer/features/fleet/fleet.tsx', '../../../preload/bridge.ts'],
    ['desktop/src/renderer/app/app.tsx', 'node:fs'],
    ['desktop/src/renderer/app/app.tsx', '@sluice/control-plane/http/server'],
    ['desktop/src/renderer/api/client.ts', '@sluice/shared/node/static-files'],
    ['desktop/src/renderer/api/client.ts', '../../../../shared/node/logger.ts'],
    ['desktop/src/renderer/api/client.ts', 'electron'],
    ['desktop/src/renderer/features/fleet/fleet-page.tsx', '../../../main/token-store.ts'],
    ['desktop/src/renderer/app/app.tsx', '../../../../agent/src/runtime/agent.ts'],
    ['desktop/src/common/ipc.ts', 'node:crypto'],
    ['desktop/src/common/ipc.ts', '../main/token-store.ts'],
    ['desktop/src/common/ipc.ts', '../renderer/api/client.ts'],
    ['desktop/src/preload/bridge.ts', 'node:fs'],
    ['desktop/src/preload/bridge.ts', '../renderer/api/client.ts'],
    ['desktop/src/main/token-store.ts', 'electron'],
    ['desktop/src/main/ipc-handlers.ts', '../renderer/api/client.ts'],
    ['desktop/src/main/electron-platform.ts', '../renderer/app/app.tsx'],
    ['desktop/src/main/console-app.ts', '../../../control-plane/src/http/server.ts'],
    ['shared/src/envelope.ts', 'node:crypto'],
    ['shared/src/envelope.ts', '@sluice/agent/outbox/frame'],
    ['shared/node/kafka.ts', '../../control-plane/src/consumer/pipeline.ts'],
    ['shared/node/kafka.ts', './testing/test-resources.ts'],
    ['agent/src/runtime/agent.ts', '../../test/support/memory-context.ts'],
    ['agent/src/sources/drop/drop-source.ts', '@sluice/shared/node/testing/manual-clock'],
    ['control-plane/src/consumer/pipeline.ts', '../../test/support/memory-sink.ts'],
    ['control-plane/src/sinks/postgres/postgres-sink.ts', '../../../test/support/sink-fixtures.ts'],
  ])('%s may not import %s', (file, specifier) => {
    expect(refused(file, specifier)).toBe(true);
  });

  it.each([
    ['agent/src/sources/drop/drop-source.ts', '../source.ts'],
    ['agent/src/sources/drop/drop-source.ts', './rows.ts'],
    ['agent/src/sources/drop/drop-source.ts', '@sluice/shared/envelope'],
    ['agent/src/sources/file/file-source.test.ts', '../../runtime/source-context.ts'],
    ['agent/src/runtime/agent.ts', '../sources/registry.ts'],
    ['control-plane/src/sinks/postgres/postgres-sink.ts', '../sink.ts'],
    ['control-plane/src/sinks/search/search-sink.ts', 'node:http'],
    ['control-plane/src/consumer/pipeline.ts', '../sinks/sink.ts'],
    ['control-plane/src/http/server.ts', '@sluice/shared/agent-config/index'],
    ['desktop/src/renderer/app/app.tsx', '../../common/ipc.ts'],
    ['desktop/src/main/electron-platform.ts', 'electron'],
    ['desktop/src/preload/index.ts', 'electron'],
    ['desktop/src/main/token-store.ts', 'node:fs'],
    ['desktop/src/main/app-files.ts', '@sluice/shared/node/static-files'],
    ['desktop/src/main/ipc-handlers.ts', '../common/ipc.ts'],
    ['desktop/src/renderer/api/client.ts', '@sluice/shared/api/response-error'],
    ['desktop/src/renderer/features/fleet/fleet-page.tsx', '../../ui/states.tsx'],
    ['shared/node/kafka.ts', 'node:crypto'],
    ['bench/agent.ts', '../agent/src/runtime/agent.ts'],
    ['agent/src/sources/drop/drop-source.test.ts', '../../../test/support/memory-context.ts'],
    ['control-plane/src/sinks/search/search-sink.int.test.ts', '../../../test/support/sink-conformance.ts'],
    ['shared/node/testing/processes.ts', './wait-for.ts'],
  ])('%s may import %s', (file, specifier) => {
    expect(refused(file, specifier)).toBe(false);
  });
});
