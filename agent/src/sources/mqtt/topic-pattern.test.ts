import { describe, expect, it } from 'vitest';
import { MQTT_TOPIC_PATTERN } from '@sluice/shared/agent-config/mqtt';
import { matchTopic, parseTopicPattern, topicFields } from './topic-pattern.ts';

describe('topic patterns', () => {
  it('subscribes the plain filter and names the wildcard levels', () => {
    const p = parseTopicPattern('site/+site/sensor/+sensor/#rest');
    expect(p.filter).toBe('site/+/sensor/+/#');
    expect(matchTopic(p, 'site/berlin/sensor/t1/raw/celsius')).toEqual({ site: 'berlin', sensor: 't1', rest: 'raw/celsius' });
    expect(matchTopic(p, 'site/berlin/sensor/t1')).toEqual({ site: 'berlin', sensor: 't1', rest: '' });
    expect(matchTopic(p, 'site/berlin/actuator/t1')).toBeUndefined();
    expect(matchTopic(p, 'site/berlin')).toBeUndefined();
  });

  it('follows MQTT matching: + is one level, unnamed wildcards capture nothing, $ topics need an exact first level', () => {
    const plus = parseTopicPattern('a/+/c');
    expect(matchTopic(plus, 'a/b/c')).toEqual({});
    expect(matchTopic(plus, 'a/b/x/c')).toBeUndefined();
    expect(matchTopic(plus, 'a//c')).toEqual({});
    expect(matchTopic(parseTopicPattern('#'), '$SYS/broker/uptime')).toBeUndefined();
    expect(matchTopic(parseTopicPattern('+x/broker/#'), '$SYS/broker/uptime')).toBeUndefined();
    expect(matchTopic(parseTopicPattern('$SYS/#all'), '$SYS/broker/uptime')).toEqual({ all: 'broker/uptime' });
    expect(matchTopic(parseTopicPattern('exact/topic'), 'exact/topic')).toEqual({});
    expect(matchTopic(parseTopicPattern('exact/topic'), 'exact/topic/more')).toBeUndefined();
  });

  it('takes the fields of the first pattern in config order that matches', () => {
    const patterns = ['site/+site/alarm', 'site/+place/#'].map(parseTopicPattern);
    expect(topicFields(patterns, 'site/b/alarm')).toEqual({ site: 'b' });
    expect(topicFields(patterns, 'site/b/other')).toEqual({ place: 'b' });
    expect(topicFields(patterns, 'elsewhere')).toEqual({});
  });

  it('refuses what is no MQTT filter, in the parser and in the config schema alike', () => {
    const schema = new RegExp(MQTT_TOPIC_PATTERN, 'u');
    for (const bad of ['a/#/b', 'a/b+', 'a/+1x', 'a#', 'a/#x-y']) {
      expect(() => parseTopicPattern(bad), bad).toThrow(/topic pattern/);
      expect(schema.test(bad), bad).toBe(false);
    }
    for (const good of ['a/+/b', 'a/+name/#', '#', '#rest', '+', 'a/b', '/leading', 'sensors/+id']) {
      expect(() => parseTopicPattern(good), good).not.toThrow();
      expect(schema.test(good), good).toBe(true);
    }
  });
});
