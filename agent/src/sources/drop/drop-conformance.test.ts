import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropConfig } from '../../../test/support/source-config.ts';
import { describeSourceConformance } from '../../../test/support/source-conformance.ts';
import { DropSource } from './drop-source.ts';

describeSourceConformance(
  'drop',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-drop-kit-'));
    return {
      create: () => new DropSource(dropConfig({ type: 'drop', id: 'drop1', dataset: 'orders', path: dir, completion: { stableMs: 100 } })),
      // Written under a temp name and renamed in, so the source never sees half a file.
      produce: async (from, to) => {
        const rows = Array.from({ length: to - from }, (_, i) => `{"n":${from + i}}\n`).join('');
        await writeFile(join(dir, `rows-${from}.ndjson.tmp`), rows);
        await rename(join(dir, `rows-${from}.ndjson.tmp`), join(dir, `rows-${from}.ndjson`));
      },
      numberOf: (envelope) => (envelope.payload as { n: number }).n,
      whenFull: 'waits',
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  // A drop file commits 1000 rows at a time: the outbox must be smaller than two commits to fill.
  { outboxRows: 1000 },
);
