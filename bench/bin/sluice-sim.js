#!/usr/bin/env node
// sluice-sim: simulated IoT, web and log traffic for Sluice (docs/simulator.md).
import process from 'node:process';

const { main } = await import('../sim/cli.ts');
process.exitCode = await main(process.argv.slice(2));
