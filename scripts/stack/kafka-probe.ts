// Kafka health probe for scripts/stack/kafka.sh: one Metadata request (v4, non-flexible encoding) over a raw
// socket, so the check needs neither a JVM start (seconds on 2 cores) nor node_modules (runs before npm ci).
// Usage: node kafka-probe.ts HOST:PORT [EXPECTED_BROKERS]   exit 0 when the broker lists >= EXPECTED live brokers.
import { connect } from 'node:net';

const [address = '127.0.0.1:9092', expectedArg = '1'] = process.argv.slice(2);
const expected = Number(expectedArg);
const separator = address.lastIndexOf(':');
const host = address.slice(0, separator);
const port = Number(address.slice(separator + 1));

function request(): Buffer {
  const clientId = Buffer.from('sluice-stack-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = 0;
  o = body.writeInt16BE(3, o); // api key: Metadata
  o = body.writeInt16BE(4, o); // version 4: oldest one Kafka 4 still serves
  o = body.writeInt32BE(1, o); // correlation id
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(-1, o); // null topic array: all topics
  body.writeInt8(0, o); // allow_auto_topic_creation=false
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function liveBrokers(response: Buffer): number {
  // correlation id, throttle_time_ms, then the broker array.
  return response.readInt32BE(8);
}

const socket = connect({ host, port });
const timer = setTimeout(() => fail('timeout'), 4000);
let received = Buffer.alloc(0);

function fail(why: string): never {
  console.error(`kafka ${address}: ${why}`);
  process.exit(1);
}

socket.on('connect', () => socket.write(request()));
socket.on('error', (error) => fail(error.message));
socket.on('close', () => fail('connection closed before a metadata response'));
socket.on('data', (chunk) => {
  received = Buffer.concat([received, chunk]);
  if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
  clearTimeout(timer);
  const brokers = liveBrokers(received.subarray(4));
  if (brokers < expected) fail(`${brokers} live broker(s), expected ${expected}`);
  console.log(`kafka ${address}: ${brokers} live broker(s)`);
  process.exit(0);
});
