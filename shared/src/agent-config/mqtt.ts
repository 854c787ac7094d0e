import type { FromSchema } from 'json-schema-to-ts';
import { JSON_POINTER_PATTERN } from '../json-pointer.ts';
import { datasetProperty, sourceIdProperty } from './common.ts';

/**
 * A topic filter with optional names for its wildcards (`site/+site/sensor/#rest`): the name after `+` or `#`
 * makes that level (or the rest of the topic) a payload field. `+` and `#` must stand alone in their level, as
 * MQTT wants (a name may follow them); `#` only last.
 */
export const MQTT_TOPIC_PATTERN = '^(?:[^+#/]*|\\+[A-Za-z_][A-Za-z0-9_]*|\\+)(?:/(?:[^+#/]*|\\+[A-Za-z_][A-Za-z0-9_]*|\\+))*(?:/#(?:[A-Za-z_][A-Za-z0-9_]*)?)?$|^#(?:[A-Za-z_][A-Za-z0-9_]*)?$';

export const mqttSourceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id', 'dataset', 'url', 'topics'],
  description:
    'Subscribes to topic filters on an MQTT broker (3.1.1 or 5) with a persistent session, so messages queued while the agent was away still arrive. A message is acknowledged (PUBACK) only after its record is committed to the outbox; record ids come from the broker, topic and content (or a message id), so a redelivery is the same record.',
  examples: [
    {
      type: 'mqtt',
      id: 'sensors',
      dataset: 'sensor_readings',
      url: 'mqtts://broker.example.com:8883',
      topics: ['site/+site/sensor/+sensor/#'],
      username: 'gateway-01',
      password: '${env:MQTT_PASSWORD}',
      tls: { ca: '/etc/sluice/mqtt-ca.pem' },
    },
  ],
  properties: {
    type: { const: 'mqtt' },
    id: sourceIdProperty,
    dataset: datasetProperty,
    partitionKey: {
      type: 'string',
      minLength: 1,
      description: 'A payload field whose value becomes the Kafka message key instead of the record id (e.g. a topic level field, to keep one sensor in order).',
      examples: ['sensor'],
    },
    url: {
      type: 'string',
      pattern: '^mqtts?://[^\\s/@]+(:[0-9]{1,5})?/?$',
      description: 'The broker: `mqtt://host:1883` or, with TLS, `mqtts://host:8883`. No credentials in the URL: use `username` and `password`.',
      examples: ['mqtt://127.0.0.1:1883'],
    },
    topics: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1, maxLength: 1024, pattern: MQTT_TOPIC_PATTERN },
      description:
        'Topic filters to subscribe to. A name after a wildcard (`+site`, `#rest`) turns that topic level (or the rest of the topic) into a payload field of that name; the broker sees the plain filter (`site/+/sensor/#`).',
      examples: [['site/+site/sensor/+sensor/#', 'alarms/#']],
    },
    qos: {
      enum: [0, 1],
      default: 1,
      description:
        'Subscription QoS. 1: at least once; each message is acknowledged after its outbox commit and redelivered by the broker if the agent went away before that. 0: at most once; nothing is queued while the agent is away.',
    },
    format: {
      enum: ['json', 'text', 'binary'],
      default: 'json',
      description:
        'How a payload becomes a record: `json` parses it (what does not parse goes to the DLQ with its reason); `text` gives `{ "message": "<UTF-8 text>" }`; `binary` gives `{ "data": "<base64>" }`.',
    },
    topicField: {
      type: 'string',
      minLength: 1,
      description: 'A payload field that gets the whole topic of each message (a field the payload has already keeps its own value).',
      examples: ['topic'],
    },
    idField: {
      type: 'string',
      pattern: JSON_POINTER_PATTERN,
      description:
        "JSON pointer (RFC 6901) to a message's own id in a JSON payload. With it, two messages with the same id on one topic are one record; without it, two messages with the same content on one topic are one record.",
      examples: ['/msgId'],
    },
    idProperty: {
      type: 'string',
      minLength: 1,
      description: 'MQTT 5: a user property carrying a stable message id set by the publisher; used like `idField` when a message has it.',
      examples: ['message-id'],
    },
    clientId: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]{1,128}$',
      description:
        "The MQTT client id, which names the persistent session on the broker. The default is derived from the agent id and the source id (`sluice-<16 hex>`, within MQTT 3.1.1's 23 characters), so it is stable across restarts and different on every agent. Two clients with one id take the session from each other.",
      examples: ['gateway-01-sensors'],
    },
    protocolVersion: { enum: [4, 5], default: 5, description: 'MQTT protocol: 5 (MQTT 5.0) or 4 (MQTT 3.1.1).' },
    sessionExpirySeconds: {
      type: 'integer',
      minimum: 60,
      maximum: 4_294_967_295,
      default: 7 * 24 * 3600,
      description: 'MQTT 5: how long the broker keeps the session (and queues messages) while the agent is away. MQTT 3.1.1 sessions last until the broker expires them.',
    },
    keepaliveSeconds: { type: 'integer', minimum: 5, maximum: 65_535, default: 30, description: 'MQTT keepalive: a broker silent for 1.5× this is taken as gone.' },
    maxInFlight: {
      type: 'integer',
      minimum: 1,
      maximum: 65_535,
      default: 1000,
      description:
        'MQTT 5: Receive Maximum, the unacknowledged QoS 1 messages the broker is asked to send at most at once. Brokers also apply their own limit (mosquitto 2.0 applies only its `max_inflight_messages`, for 3.1.1 and 5 alike).',
    },
    batchSize: {
      type: 'integer',
      minimum: 1,
      maximum: 100_000,
      default: 1000,
      description: 'Messages per outbox commit at most; messages arriving while a commit runs are committed together next (one fsync per batch, then their PUBACKs).',
    },
    username: { type: 'string', minLength: 1, description: 'MQTT user name.', examples: ['gateway-01'] },
    password: { type: 'string', minLength: 1, description: 'MQTT password. Use `${env:NAME}`; never logged or shown in /status.', examples: ['${env:MQTT_PASSWORD}'] },
    passwordFile: {
      type: 'string',
      minLength: 1,
      description: "A file holding the MQTT password (trailing newline ignored), read at start; it must be inside `allowedRoots`. A relative path resolves against the config file's folder.",
      examples: ['/etc/sluice/mqtt-password'],
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      description: "TLS for `mqtts://` URLs: PEM files (relative paths resolve against the config file's folder). `cert` and `key` together give a client certificate.",
      examples: [{ ca: '/etc/sluice/mqtt-ca.pem', cert: '/etc/sluice/gateway.pem', key: '/etc/sluice/gateway-key.pem' }],
      properties: {
        ca: { type: 'string', minLength: 1, description: 'CA certificate(s) to trust instead of the system store.' },
        cert: { type: 'string', minLength: 1, description: 'Client certificate.' },
        key: { type: 'string', minLength: 1, description: "The client certificate's private key." },
        servername: { type: 'string', minLength: 1, description: 'Server name (SNI and certificate check) when it differs from the URL host.' },
        rejectUnauthorized: { type: 'boolean', default: true, description: 'Refuse a broker whose certificate does not verify. Turn off only for tests.' },
      },
      dependencies: { cert: ['key'], key: ['cert'] },
    },
    reconnect: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Reconnects after a lost or refused connection, with jittered exponential backoff.',
      properties: {
        minDelayMs: { type: 'integer', minimum: 0, default: 500, description: 'First backoff delay.' },
        maxDelayMs: { type: 'integer', minimum: 0, default: 30_000, description: 'Longest backoff delay.' },
        connectTimeoutMs: { type: 'integer', minimum: 100, default: 30_000, description: 'A connection attempt not answered (CONNACK) within this fails.' },
      },
    },
    maxRecordBytes: { type: 'integer', minimum: 64, default: 1024 * 1024, description: 'A larger record is shipped as a parseError record (to the DLQ) with its first bytes.' },
  },
} as const;

export type MqttSourceConfig = FromSchema<typeof mqttSourceConfigSchema>;
