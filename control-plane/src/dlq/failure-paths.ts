/**
 * The payload locations a schema failure names. The consumer writes a schema failure as
 * `does not match schema version <v> of <dataset>: <path>: <message>; <path>: <message>…` (record-intake.ts,
 * with the list from `describeErrors` in datasets/validators.ts); this reads the paths back out of it, so a
 * dry run can show where records break without a second validation. Other reasons name no path.
 */
const SCHEMA_FAILURE = /^does not match schema version \d+ of [a-z][a-z0-9_]*: /;

export function failurePaths(reason: string): string[] {
  const head = SCHEMA_FAILURE.exec(reason);
  if (!head) return [];
  const paths = new Set<string>();
  for (const part of reason.slice(head[0].length).split('; ')) {
    const at = /^(\/.*?): /.exec(part);
    if (at?.[1] !== undefined) paths.add(at[1]);
  }
  return [...paths];
}
