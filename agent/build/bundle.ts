/**
 * Builds the agent for a gateway package: `node agent/build/bundle.ts --out DIR` writes
 *
 *   DIR/agent.mjs                       bin/sluice-agent.js and everything it imports, in one ESM file
 *   DIR/agent.mjs.LEGAL.txt             the licence comments of the bundled dependencies
 *   DIR/node_modules/better-sqlite3/    the one native module: its JS wrapper and the .node binary this Node loads
 *
 * The binary ships with the Node that ran this script (scripts/package-agent.sh copies that same Node), so
 * whatever loads here loads on the gateway. Only the binary this Node actually loads ships, not the
 * prebuilds of every platform.
 *
 * Left out on purpose: the Kafka client's optional native CRC32C (@node-rs/crc32, loaded with require() at
 * run time) falls back to its WebAssembly one; pino's transports (worker files loaded by path) are not
 * used: the agent logs JSON lines to stdout.
 */
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const AGENT_DIR = path.join(import.meta.dirname, '..');
const require = createRequire(path.join(AGENT_DIR, 'package.json'));

/** The native module stays a real package beside the bundle: a .node file cannot be inlined. */
const NATIVE = 'better-sqlite3';
/**
 * Not installed, required inside try/catch by their users, so esbuild leaves them external: `debug` (of the
 * Kafka client) colours its output when supports-color is there; `ws` (WebSocket push) uses the native
 * bufferutil and utf-8-validate when they are there. Each one falls back without it.
 */
const OPTIONAL = new Set(['supports-color', 'bufferutil', 'utf-8-validate']);

export interface BundleResult {
  bundle: string;
  nativeBinary: string;
  bytes: number;
}

export async function bundleAgent(outDir: string): Promise<BundleResult> {
  // Never clears a folder: a mistyped --out must not delete anything.
  if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new Error(`${outDir}: not empty; bundle into a new or empty folder`);
  mkdirSync(outDir, { recursive: true });
  const outfile = path.join(outDir, 'agent.mjs');
  const result = await build({
    entryPoints: [path.join(AGENT_DIR, 'bin/sluice-agent.js')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    external: [NATIVE],
    // wasm-utils reads its .wasm beside its own file (new URL(..., import.meta.url)), which is gone once
    // bundled; its `bundled` entry carries the same module inline.
    alias: { '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled' },
    // The CommonJS dependencies (pino, ajv, prom-client, opossum...) call require() for Node built-ins;
    // in an ESM file there is no require unless the bundle makes one.
    banner: { js: "import { createRequire as __sluiceCreateRequire } from 'node:module';\nconst require = __sluiceCreateRequire(import.meta.url);" },
    legalComments: 'external',
    metafile: true,
    logLevel: 'warning',
  });
  if (result.errors.length > 0) throw new Error(`esbuild failed: ${result.errors.map((e) => e.text).join('; ')}`);
  // Anything left external besides Node built-ins and the native module would be missing on the gateway.
  const leftOver = new Set<string>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imported of output.imports) {
      if (imported.external && imported.path !== NATIVE && !OPTIONAL.has(imported.path) && !isBuiltin(imported.path)) leftOver.add(imported.path);
    }
  }
  if (leftOver.size > 0) throw new Error(`not bundled: ${[...leftOver].join(', ')}`);
  const nativeBinary = copyNativeModule(path.join(outDir, 'node_modules', NATIVE));
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  return { bundle: outfile, nativeBinary, bytes };
}

/**
 * Copies better-sqlite3's package.json and lib/ plus the one .node file this Node loads, found by loading it:
 * better-sqlite3 picks build/Release (a local compile) over prebuilds/<platform>.node, and the copy keeps the
 * same relative path so the gateway's Node picks the same file.
 */
function copyNativeModule(target: string): string {
  const packageJson = require.resolve(`${NATIVE}/package.json`);
  const root = path.dirname(packageJson);
  const Database = require(NATIVE) as new (file: string) => { close(): void };
  new Database(':memory:').close();
  const loaded = Object.keys(require.cache).find((file) => file.startsWith(root + path.sep) && file.endsWith('.node'));
  if (!loaded) throw new Error(`${NATIVE}: could not find the .node binary it loaded under ${root}`);
  const relative = path.relative(root, loaded);
  mkdirSync(path.dirname(path.join(target, relative)), { recursive: true });
  cpSync(packageJson, path.join(target, 'package.json'));
  cpSync(path.join(root, 'lib'), path.join(target, 'lib'), { recursive: true });
  cpSync(loaded, path.join(target, relative));
  cpSync(path.join(root, 'LICENSE'), path.join(target, 'LICENSE'));
  return path.join(target, relative);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  if (!values.out) {
    process.stderr.write('usage: node agent/build/bundle.ts --out DIR\n');
    process.exit(2);
  }
  try {
    const built = await bundleAgent(path.resolve(values.out));
    process.stdout.write(`${built.bundle} (${Math.round(built.bytes / 1024)} KiB), ${built.nativeBinary}\n`);
  } catch (error) {
    process.stderr.write(`bundle: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
