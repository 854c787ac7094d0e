/**
 * Renders the agent config reference (docs/agent-config.md) from the JSON Schema, so the page says what the
 * loader enforces: every option, its type and limits, its default, an example. Pure: the staleness test
 * renders in memory and compares with the committed file.
 */
import { stringify } from 'yaml';
import { agentConfigSchema } from '@sluice/shared/agent-config/index';

interface Schema {
  type?: string;
  const?: unknown;
  enum?: readonly unknown[];
  default?: unknown;
  description?: string;
  examples?: readonly unknown[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  required?: readonly string[];
  items?: Schema;
  oneOf?: readonly Schema[];
  discriminator?: { propertyName: string };
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
}

interface Row {
  option: string;
  type: string;
  default: string;
  description: string;
}

const root = agentConfigSchema as unknown as Schema;
const code = (text: string): string => `\`${text}\``;
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function sizeNote(key: string, value: unknown): string {
  if (typeof value !== 'number' || !/Bytes$/.test(key) || value < 1024) return '';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let n = value / 1024;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return Number.isInteger(n) ? ` (${n} ${units[unit]})` : '';
}

function typeOf(schema: Schema): string {
  if (schema.const !== undefined) return code(JSON.stringify(schema.const));
  if (schema.enum) return schema.enum.map((v) => code(JSON.stringify(v))).join(' | ');
  if (schema.type === 'array') return `list of ${schema.items ? typeOf(schema.items) : 'values'}${schema.minItems ? ` (at least ${schema.minItems})` : ''}`;
  if (schema.type === 'object' && typeof schema.additionalProperties === 'object') return `map of ${typeOf(schema.additionalProperties)}`;
  if (schema.oneOf && !schema.type) return 'object';
  const limits: string[] = [];
  if (schema.minimum !== undefined) limits.push(`≥ ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) limits.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined) limits.push(`≤ ${schema.maximum}`);
  const chars = (n: number): string => `${n} character${n === 1 ? '' : 's'}`;
  if (schema.minLength !== undefined && schema.minLength > 1) limits.push(`at least ${chars(schema.minLength)}`);
  if (schema.maxLength !== undefined) limits.push(`at most ${chars(schema.maxLength)}`);
  if (schema.pattern !== undefined) limits.push(`matching ${code(schema.pattern)}`);
  return `${schema.type ?? 'value'}${limits.length > 0 ? ` (${limits.join(', ')})` : ''}`;
}

function defaultOf(key: string, schema: Schema, required: string | undefined): string {
  if (required !== undefined) return required;
  if (schema.default === undefined) return '';
  if (typeof schema.default === 'object' && schema.default !== null && !Array.isArray(schema.default) && Object.keys(schema.default).length === 0) return '';
  return `${code(JSON.stringify(schema.default))}${sizeNote(key, schema.default)}`;
}

function describe(schema: Schema, note = ''): string {
  const parts = [note, schema.description ?? ''].filter((p) => p !== '');
  const example = schema.examples?.[0];
  if (example !== undefined) parts.push(`Example: ${code(JSON.stringify(example))}.`);
  return parts.join(' ');
}

/**
 * One row per option, nested objects flattened to dotted names. A discriminated oneOf's branches follow
 * each other, each option saying which tag value it belongs to; the branches of a plain oneOf are
 * alternatives, so their own keys are "one of" rather than required.
 */
function rows(schema: Schema, prefix: string, note = '', requiredLabel = '**required**'): Row[] {
  const out: Row[] = [];
  const tag = schema.discriminator?.propertyName;
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    const option = `${prefix}${key}`;
    const required = (schema.required ?? []).includes(key) ? requiredLabel : undefined;
    out.push({ option: code(option), type: cell(typeOf(sub)), default: cell(defaultOf(key, sub, required)), description: cell(describe(sub, note)) });
    if (sub.properties || sub.oneOf) out.push(...rows(sub, `${option}.`));
  }
  for (const branch of schema.oneOf ?? []) {
    if (tag === undefined) {
      out.push(...rows(branch, prefix, '', 'one of these'));
      continue;
    }
    const tagSchema = branch.properties?.[tag];
    const values = tagSchema?.const !== undefined ? [tagSchema.const] : (tagSchema?.enum ?? []);
    const others = Object.fromEntries(Object.entries(branch.properties ?? {}).filter(([key]) => key !== tag));
    const when = values.map((v) => code(`${tag}: ${String(v)}`)).join(' or ');
    out.push(...rows({ ...branch, properties: others }, prefix, `With ${when}:`));
  }
  return out;
}

function table(list: Row[]): string {
  const lines = ['| option | type | default | description |', '| --- | --- | --- | --- |'];
  for (const r of list) lines.push(`| ${r.option} | ${r.type} | ${r.default} | ${r.description} |`);
  return lines.join('\n');
}

/** The source's own example, else the smallest valid one: its required options, from their examples. */
function exampleSource(schema: Schema): unknown {
  if (schema.examples?.[0] !== undefined) return schema.examples[0];
  return Object.fromEntries(
    (schema.required ?? []).map((key) => {
      const sub = schema.properties?.[key] ?? {};
      return [key, sub.const ?? sub.examples?.[0] ?? `<${key}>`];
    }),
  );
}

function yamlBlock(value: unknown): string {
  return ['```yaml', stringify(value, { lineWidth: 0 }).trimEnd(), '```'].join('\n');
}

export function renderAgentConfigDocs(): string {
  const top = root.properties ?? {};
  const sources = top.sources?.items?.oneOf ?? [];
  const settings = Object.fromEntries(Object.entries(top).filter(([key]) => key !== 'sources'));
  const sections: string[] = [
    '# Agent configuration reference',
    '',
    '<!-- Generated from the agent config JSON Schema by `npm run docs:config`. Do not edit by hand: a test fails when this file is stale. -->',
    '',
    'The agent reads one YAML file: `sluice-agent run --config agent.yaml` (`sluice-agent validate --config agent.yaml` checks it',
    'without starting). Every problem is reported at once, one `path: reason` line each. Any string value may contain',
    '`${env:NAME}`, replaced by that environment variable after the YAML is parsed; use it for every secret. Relative paths',
    "resolve against the config file's folder. An option left out takes the default shown here.",
    '',
    'A minimal config:',
    '',
    yamlBlock({
      agentId: 'gateway-berlin-01',
      kafka: { brokers: ['kafka-1:9092'] },
      allowedRoots: ['/var/log/app'],
      sources: [{ type: 'file', id: 'app-logs', dataset: 'app_logs', include: ['/var/log/app/*.log'] }],
    }),
    '',
    '## Agent settings',
    '',
    'These settings are local to the machine: the agent reads them from its YAML only. A policy from the control plane',
    'never carries them, so a pushed config can neither cut the agent off from the control plane nor widen the folders',
    'it may read.',
    '',
    table(rows({ ...root, properties: settings }, '')),
    '',
    '## Sources',
    '',
    describe(top.sources ?? {}),
    'Every source has a `type`, an `id` unique in the config and the `dataset` its records belong to.',
    '',
    'The sources are the pipeline. A standalone agent reads them from its YAML; a fleet-managed agent receives them from',
    'its policy ([policies.md](policies.md)), checked by the same validator with the same defaults.',
  ];
  for (const source of sources) {
    const kind = String(source.properties?.type?.const);
    sections.push('', `### ${kind}`, '', source.description ?? '', '', yamlBlock({ sources: [exampleSource(source)] }), '', table(rows(source, '')));
  }
  return `${sections.join('\n')}\n`;
}
