import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileConfig } from '../../../test/support/file-source-harness.ts';
import { describeSourceConformance } from '../../../test/support/source-conformance.ts';
import { AllowedRoots } from '../../config/allowed-roots.ts';
import { FileSource } from './file-source.ts';

describeSourceConformance(
  'file',
  async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sluice-file-kit-'));
  const logs = path.join(dir, 'logs');
  await mkdir(logs);
  return {
    create: () => new FileSource(fileConfig(logs), { baseDir: dir, allowedRoots: new AllowedRoots([logs], dir) }),
    produce: (from, to) => appendFile(path.join(logs, 'app.log'), Array.from({ length: to - from }, (_, i) => `record ${from + i}\n`).join('')),
    numberOf: (envelope) => Number(/^record (\d+)$/.exec((envelope.payload as { message: string }).message)?.[1]),
    whenFull: 'waits',
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  },
  // One commit holds up to 8 read chunks of 4 KiB (some 2900 of these lines).
  { outboxRows: 150, pastFull: 8000 },
);
