// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'crypto', 'http', 'https', 'net', 'stream', 'events', 'child_process', 'url', 'util', 'zlib', 'buffer', 'worker_threads'];

/**
 * What each layer may not import, VS Code style (`local/code-layering`). Relative paths are matched by the
 * folder they climb into, package paths by name. A file gets every ban of every row that covers it: ESLint
 * does not merge one rule's options across config objects, so `layer()` adds the outer rows' bans itself.
 */
const bans = {
  node: { group: nodeBuiltins, message: 'shared/src is isomorphic: no Node imports (Node-only code goes in shared/node).' },
  apps: { regex: String.raw`^@sluice/(agent|control-plane|desktop)(/|$)|(^|/)(agent|control-plane|desktop)/(src|bin|test)/`, message: 'shared is below the agent, the control plane and the console: it imports none of them.' },
  controlPlane: { regex: String.raw`^@sluice/control-plane(/|$)|(^|/)control-plane/(src|bin|test)/`, message: 'The agent never imports the control plane: they meet only through shared/ (and Kafka, and HTTP).' },
  agent: { regex: String.raw`^@sluice/agent(/|$)|(^|/)agent/(src|bin|test)/`, message: 'The control plane never imports the agent: they meet only through shared/ (and Kafka, and HTTP).' },
  runtime: { regex: String.raw`^@sluice/agent/runtime/|^(\.\./)+runtime(/|$)`, message: 'Sources never import the agent runtime: they get what they need through SourceContext (sources/source.ts).' },
  consumerOrHttp: { regex: String.raw`^@sluice/control-plane/(consumer|http)/|^(\.\./)+(consumer|http)(/|$)`, message: 'Sinks never import the consumer or the HTTP layer: they implement sinks/sink.ts and are driven by it.' },
  rendererNode: { group: [...nodeBuiltins, 'electron', '@sluice/shared/node/*'], message: 'The renderer never imports Node; talk to the preload bridge or the REST API.' },
  testSupport: { regex: String.raw`(^|/)(test/support|node/testing)/|^\./testing/|^@sluice/shared/node/testing/`, message: 'Code that ships never imports test support (test/support/, shared/node/testing/).' },
  mainOrPreload: { regex: String.raw`^(\.\./)+(main|preload)(/|$)|^@sluice/desktop/(main|preload)/`, message: 'The renderer never imports main or preload: it talks to them through the typed IPC bridge (common/ipc.ts).' },
  sharedNode: { regex: String.raw`(^|/)shared/node/`, message: 'The renderer and common/ run in the page: shared/src only, never the Node half of shared.' },
  renderer: { regex: String.raw`^(\.\./)+renderer(/|$)|^@sluice/desktop/renderer/`, message: 'Main and preload never import the renderer: the page is untrusted; they meet only through common/ipc.ts.' },
  electron: { group: ['electron', 'electron/*'], message: 'Only main/electron-platform.ts (and the preload) import Electron; the rest of main/ stays testable in plain Node.' },
  desktopApps: { regex: String.raw`^(\.\./)+(main|preload|renderer)(/|$)`, message: 'common/ is the contract between the desktop layers: it imports none of them.' },
};
/** Production code of a layer: its tests may wire real neighbours together (a runtime context for a source). */
const notTests = ['**/*.test.ts', '**/*.int.test.ts', '**/*.e2e.test.ts'];
const layer = (files, patterns, ignores = []) => ({ files, ignores, rules: { 'no-restricted-imports': ['error', { patterns }] } });

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.tsbuild/**', '**/dist/**', '**/out/**', '.stack/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['agent/bin/*.js', 'control-plane/bin/*.js', 'bench/bin/*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Name what a module re-exports; no `export *`.' }],
    },
  },
  layer(['shared/**/*.ts'], [bans.apps]),
  layer(['shared/node/**/*.ts'], [bans.apps, bans.testSupport], ['shared/node/testing/**']),
  // The isomorphic core of shared/ runs in the browser renderer too: nothing of Node, nothing of the DOM.
  layer(['shared/src/**/*.ts'], [bans.apps, bans.node, bans.testSupport]),
  { files: ['shared/src/**/*.ts'], rules: { 'no-restricted-globals': ['error', 'window', 'document', 'process', 'Buffer', 'require'] } },
  layer(['agent/**/*.ts'], [bans.controlPlane]),
  layer(['agent/src/**/*.ts'], [bans.controlPlane, bans.testSupport], notTests),
  layer(['agent/src/sources/**/*.ts'], [bans.controlPlane, bans.runtime, bans.testSupport], notTests),
  layer(['control-plane/**/*.ts'], [bans.agent]),
  layer(['control-plane/src/**/*.ts'], [bans.agent, bans.testSupport], notTests),
  layer(['control-plane/src/sinks/**/*.ts'], [bans.agent, bans.consumerOrHttp, bans.testSupport], notTests),
  // The console (VS Code's layering table, in small): the page imports shared/src and common/ only; main never
  // imports the page; Electron itself stays behind one module of main/ and the preload.
  layer(['desktop/src/renderer/**/*.{ts,tsx}'], [bans.rendererNode, bans.sharedNode, bans.mainOrPreload, bans.agent, bans.controlPlane, bans.testSupport]),
  layer(['desktop/src/common/**/*.ts'], [bans.rendererNode, bans.sharedNode, bans.desktopApps, bans.agent, bans.controlPlane, bans.testSupport]),
  layer(['desktop/src/preload/**/*.ts'], [bans.node, bans.renderer, bans.agent, bans.controlPlane, bans.testSupport], notTests),
  layer(['desktop/src/main/**/*.ts'], [bans.electron, bans.renderer, bans.agent, bans.controlPlane, bans.testSupport], [...notTests, 'desktop/src/main/electron-platform.ts']),
  layer(['desktop/src/main/electron-platform.ts'], [bans.renderer, bans.agent, bans.controlPlane, bans.testSupport]),
  {
    files: ['**/*.test.ts', '**/*.int.test.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/unbound-method': 'off', '@typescript-eslint/require-await': 'off' },
  },
);
