/**
 * What keeps validating one record linear in its size, whatever schema an operator publishes.
 *
 * - Regular expressions (`pattern`, `patternProperties`, `propertyNames.pattern`) run on RE2, which matches
 *   in linear time. V8's backtracking engine takes exponential time on `^(a+)+$` against `aaaa…!`: 28
 *   characters froze a control plane for 17 s. RE2 has no backreferences or lookaround, so patterns using
 *   them are refused at publish, with the schema path (see `patternProblems`).
 * - `uniqueItems` compares canonical forms in a Set; ajv's own keyword compares every pair of non-scalar
 *   items, and 150 000 distinct numbers in a 1 MiB record took about 30 s.
 * - `format`s: ajv-formats' regular expressions run on RE2 too (`url` took 1.8 s on 50 000 characters);
 *   `url`'s lookaheads are rewritten for it. `duration` and `hostname` keep theirs and are linear as they
 *   are; `regex` (V8 parsing the value as a pattern, which grew as fast) is bounded in length.
 */
import type { Ajv2020 } from 'ajv/dist/2020.js';

/** What addKeyword takes, from the Ajv class itself: shared/ resolves its own copy of ajv, whose types TypeScript keeps apart. */
type KeywordDefinition = Parameters<Ajv2020['addKeyword']>[0] & object;
import type { RegExpEngine } from 'ajv/dist/types/index.js';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import RE2 from 're2';
import { forEachSubschema, pointer } from './schema-walk.ts';

export const re2Engine: RegExpEngine = Object.assign((pattern: string, flags: string) => new RE2(pattern, flags), {
  code: 'new (require("re2"))',
});

/** Sorted keys, so `{a:1,b:2}` and `{b:2,a:1}` are one value, as JSON Schema's equality has them. */
function canonical(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

interface UniqueItemsValidate {
  (schema: boolean, data: unknown[]): boolean;
  errors?: Array<{ keyword: string; message: string; params: Record<string, unknown> }>;
}

const validateUnique: UniqueItemsValidate = (schema, data) => {
  if (!schema || data.length < 2) return true;
  const seen = new Map<string, number>();
  for (let j = 0; j < data.length; j++) {
    const key = canonical(data[j]);
    const i = seen.get(key);
    if (i !== undefined) {
      // The same words and params as ajv's own keyword (its `i` is the later item), so reasons do not change.
      validateUnique.errors = [{ keyword: 'uniqueItems', message: `must NOT have duplicate items (items ## ${i} and ${j} are identical)`, params: { i: j, j: i } }];
      return false;
    }
    seen.set(key, j);
  }
  return true;
};

const uniqueItems: KeywordDefinition = { keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: true, validate: validateUnique };

/** Longer values fail `regex`: V8 parsing a pattern of this length stays well under a millisecond. */
const MAX_REGEX_FORMAT_CHARS = 4096;
/** ajv-formats' `byte` (base64), whose V8 form backtracks on a long run of almost-base64. */
const BYTE = new RE2('^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$', 'm');

/** ajv-formats' IPv4 host of `url`: any address but 10/8, 127/8, 169.254/16, 192.168/16, 172.16/12, by lookahead. */
const LOOKAHEAD_IPV4 = String.raw`(?!(?:10|127)(?:\.\d{1,3}){3})(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))`;
const OCTET = String.raw`(?:1?\d{1,2}|2[0-4]\d|25[0-5])`;
/** The same addresses with the exclusions spelled out octet by octet, which RE2 can run. */
const PUBLIC_IPV4 = [
  String.raw`(?:(?:[1-9]|1[1-9]|[2-9]\d|1(?:[013-58]\d|2[0-689]|6[0-8]|7[013-9]|9[013-9])|2[01]\d|22[0-3])\.${OCTET}`,
  String.raw`|169\.(?:1?\d{1,2}|2[0-4]\d|25[0-35])`,
  String.raw`|192\.(?:\d{1,2}|1(?:[0-57-9]\d|6[0-79])|2[0-4]\d|25[0-5])`,
  String.raw`|172\.(?:\d|0\d|1[0-5]|3[2-9]|[4-9]\d|1\d\d|2[0-4]\d|25[0-5]))`,
  String.raw`\.${OCTET}\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4])`,
].join('');

/**
 * `url` on RE2, same language (checked against ajv-formats on a million URLs around the excluded ranges).
 * Should an ajv-formats upgrade change the expression, its own check runs, bounded in length.
 */
function linearUrl(url: RegExp): (value: string) => boolean {
  if (url.source.includes(LOOKAHEAD_IPV4)) {
    const linear = new RE2(url.source.replace(LOOKAHEAD_IPV4, PUBLIC_IPV4), url.flags);
    return (value) => linear.test(value);
  }
  return (value) => value.length <= 2048 && url.test(value);
}

/** After ajv-formats: replaces its formats with linear or bounded versions of the same checks. */
export function useLinearKeywords(ajv: Ajv2020): void {
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword(uniqueItems);
  for (const [name, format] of Object.entries(fullFormats)) {
    if (!(format instanceof RegExp)) continue;
    let linear: RE2;
    try {
      linear = new RE2(format.source, format.flags.replace('g', ''));
    } catch {
      // Lookaround: `duration` and `hostname` (its lookahead caps the length first) are linear as they are.
      continue;
    }
    ajv.addFormat(name, (value: string) => linear.test(value));
  }
  const url = fullFormats.url as RegExp;
  const regex = fullFormats.regex as (value: string) => boolean;
  ajv.addFormat('url', linearUrl(url));
  ajv.addFormat('regex', (value: string) => value.length <= MAX_REGEX_FORMAT_CHARS && regex(value));
  ajv.addFormat('byte', (value: string) => BYTE.test(value));
}

/**
 * Every regular expression of a schema that RE2 cannot compile, as `{path, message}` (a JSON pointer into
 * the schema): each `pattern` and each `patternProperties` key.
 */
export function patternProblems(schema: unknown): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  const check = (path: string, source: string): void => {
    try {
      new RE2(source, 'u');
    } catch (error) {
      problems.push({ path, message: `pattern ${JSON.stringify(source)} is not supported: ${(error as Error).message} (patterns run on RE2: no backreferences or lookaround)` });
    }
  };
  forEachSubschema(schema, (node, path) => {
    if (typeof node.pattern === 'string') check(pointer(path, 'pattern'), node.pattern);
    const keyed = node.patternProperties;
    if (typeof keyed === 'object' && keyed !== null && !Array.isArray(keyed)) {
      for (const key of Object.keys(keyed)) check(pointer(pointer(path, 'patternProperties'), key), key);
    }
  });
  return problems.sort((a, b) => a.path.localeCompare(b.path));
}
