/**
 * Topic filters with named wildcards (`site/+site/sensor/#rest`, the convention of the `mqtt-pattern`
 * package): the broker is sent the plain filter (`site/+/sensor/#`), and a received topic is matched back
 * against the patterns to name its levels. Matching follows MQTT 3.1.1 §4.7 (5.0 §4.7): `+` is one level,
 * `#` the rest (also none: `a/#` matches `a`), and a topic starting with `$` is not matched by a filter
 * starting with a wildcard.
 */

interface Level {
  kind: 'exact' | 'one' | 'rest';
  /** The exact level's text, or the wildcard's field name ('' when unnamed). */
  text: string;
}

export interface TopicPattern {
  /** As written in the config. */
  pattern: string;
  /** What the broker is subscribed to. */
  filter: string;
  levels: readonly Level[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses a pattern; throws on one the config schema would refuse (a wildcard inside a level, `#` not last). */
export function parseTopicPattern(pattern: string): TopicPattern {
  const parts = pattern.split('/');
  const levels = parts.map((part, i): Level => {
    if (part.startsWith('#')) {
      if (i !== parts.length - 1) throw new Error(`topic pattern ${pattern}: '#' must be the last level`);
      return { kind: 'rest', text: checkedName(pattern, part.slice(1)) };
    }
    if (part.startsWith('+')) return { kind: 'one', text: checkedName(pattern, part.slice(1)) };
    if (part.includes('+') || part.includes('#')) throw new Error(`topic pattern ${pattern}: a wildcard must stand alone in its level`);
    return { kind: 'exact', text: part };
  });
  const filter = levels.map((l) => (l.kind === 'exact' ? l.text : l.kind === 'one' ? '+' : '#')).join('/');
  return { pattern, filter, levels };
}

function checkedName(pattern: string, name: string): string {
  if (name !== '' && !NAME.test(name)) throw new Error(`topic pattern ${pattern}: wildcard name '${name}' must be a letter or '_' followed by letters, digits or '_'`);
  return name;
}

/** The named levels of `topic` under `pattern`, or undefined when the topic does not match it. */
export function matchTopic(pattern: TopicPattern, topic: string): Record<string, string> | undefined {
  const parts = topic.split('/');
  const first = pattern.levels[0];
  if (topic.startsWith('$') && first !== undefined && first.kind !== 'exact') return undefined;
  const fields: Record<string, string> = {};
  for (let i = 0; i < pattern.levels.length; i++) {
    const level = pattern.levels[i]!;
    if (level.kind === 'rest') {
      if (level.text !== '') fields[level.text] = parts.slice(i).join('/');
      return fields;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (level.kind === 'exact') {
      if (part !== level.text) return undefined;
    } else if (level.text !== '') {
      fields[level.text] = part;
    }
  }
  return parts.length === pattern.levels.length ? fields : undefined;
}

/**
 * The fields of a topic under the first pattern (in config order) that matches it: what a message received
 * for overlapping subscriptions gets is decided by the config, not by which subscription the broker used.
 */
export function topicFields(patterns: readonly TopicPattern[], topic: string): Record<string, string> {
  for (const pattern of patterns) {
    const fields = matchTopic(pattern, topic);
    if (fields !== undefined) return fields;
  }
  return {};
}
