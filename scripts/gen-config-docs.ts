// `npm run docs:config`: writes docs/agent-config.md from the agent config schema.
import { writeFileSync } from 'node:fs';
import { renderAgentConfigDocs } from './config-docs/render-agent-config.ts';

const target = new URL('../docs/agent-config.md', import.meta.url);
writeFileSync(target, renderAgentConfigDocs());
console.log(`wrote ${target.pathname}`);
