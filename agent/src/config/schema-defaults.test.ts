import { describe, expect, it } from 'vitest';
import { agentConfigSchema } from '@sluice/shared/agent-config/index';
import { parseConfig } from './load-config.ts';

// The sources have no fallbacks in code: an option's default reaches them only if the loader applied it. So
// every `default` in the schema must be in the loaded config, including those of nested objects (which need
// `default: {}` themselves) and of every branch of a discriminated oneOf.
const minimal = `
agentId: edge-1
kafka: { brokers: ["127.0.0.1:9092"] }
allowedRoots: [/tmp]
controlPlane: { url: "http://127.0.0.1:8080", apiKey: key }
sources:
  - { type: file, id: f, dataset: app, include: ["/tmp/*.log"], multiline: { startPattern: "^\\\\S" } }
  - { type: drop, id: d, dataset: app, path: /tmp/drop }
  - { type: http-poll, id: p, dataset: app, url: "http://127.0.0.1/items" }
  - { type: http-poll, id: pc, dataset: app, url: "http://127.0.0.1/items", pagination: { type: cursor, cursorPath: next, param: c } }
  - { type: http-poll, id: pp, dataset: app, url: "http://127.0.0.1/items", pagination: { type: page, param: page } }
  - { type: http-poll, id: po, dataset: app, url: "http://127.0.0.1/items", pagination: { type: offset, param: o, limitParam: l } }
  - { type: http-push, id: h, dataset: app, token: "0123456789abcdef" }
  - { type: mqtt, id: m, dataset: app, url: "mqtt://127.0.0.1:1883", topics: ["a/#"], tls: { ca: ca.pem } }
`;

interface Schema {
  default?: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
  oneOf?: Schema[];
  discriminator?: { propertyName: string };
  const?: unknown;
  enum?: unknown[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function hasDefaultInside(schema: Schema): boolean {
  return (
    schema.default !== undefined ||
    Object.values(schema.properties ?? {}).some(hasDefaultInside) ||
    (schema.items !== undefined && hasDefaultInside(schema.items)) ||
    (schema.oneOf ?? []).some(hasDefaultInside)
  );
}

/** Walks the schema along the loaded value; returns one line per default that did not arrive. */
function missingDefaults(schema: Schema, value: unknown, at: string, visited: Set<Schema>): string[] {
  const problems: string[] = [];
  if (schema.oneOf) {
    const tag = schema.discriminator?.propertyName;
    if (tag === undefined) {
      if (schema.oneOf.some(hasDefaultInside)) problems.push(`${at}: a default inside a oneOf without a discriminator is never applied`);
    } else if (isObject(value)) {
      const branch = schema.oneOf.find((b) => b.properties?.[tag]?.const === value[tag] || (b.properties?.[tag]?.enum ?? []).includes(value[tag]));
      if (branch) {
        visited.add(branch);
        problems.push(...missingDefaults(branch, value, at, visited));
      }
    }
  }
  if (schema.items && Array.isArray(value)) value.forEach((item, i) => problems.push(...missingDefaults(schema.items as Schema, item, `${at}[${i}]`, visited)));
  if (schema.properties && isObject(value)) {
    for (const [key, sub] of Object.entries(schema.properties)) {
      const path = `${at}.${key}`;
      if (value[key] === undefined) {
        if (sub.default !== undefined) problems.push(`${path}: default ${JSON.stringify(sub.default)} was not applied`);
        else if (hasDefaultInside(sub)) problems.push(`${path}: has defaults inside but is absent (give it default: {} or set it in the minimal config)`);
      } else {
        // Scalars only: the minimal config sets some arrays and objects (allowedRoots, sources) itself.
        if (sub.default !== undefined && typeof sub.default !== 'object') expect(value[key], path).toEqual(sub.default);
        problems.push(...missingDefaults(sub, value[key], path, visited));
      }
    }
  }
  return problems;
}

function branchesWithDefaults(schema: Schema): Schema[] {
  const own = schema.discriminator ? (schema.oneOf ?? []).filter(hasDefaultInside) : [];
  const children = [...Object.values(schema.properties ?? {}), ...(schema.items ? [schema.items] : []), ...(schema.oneOf ?? [])];
  return [...own, ...children.flatMap(branchesWithDefaults)];
}

const root = agentConfigSchema as unknown as Schema;

describe('agent config defaults', () => {
  it('every default in the schema is present after loading a minimal config', () => {
    const config = parseConfig(minimal, '/tmp', {});
    const visited = new Set<Schema>();
    expect(missingDefaults(root, config, '(root)', visited)).toEqual([]);
    // The minimal config reaches every branch that has defaults, so none is left unchecked.
    expect(branchesWithDefaults(root).filter((b) => !visited.has(b))).toEqual([]);
  });
});
