#!/usr/bin/env node
import process from 'node:process';
import { main } from '../src/cli.ts';

main().catch((error) => {
  process.stderr.write(`sluice-control-plane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
