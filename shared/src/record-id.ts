/**
 * Stable record ids, decided at the edge from where a record came from (docs/architecture.md, hop 1).
 * The same input always yields the same id, so a re-read after a crash or a retried send is recognised
 * downstream (`ON CONFLICT DO NOTHING`, search `_id`, object keys). Parts are joined with ':' and must not
 * contain it; callers hash unbounded parts (API cursors, file paths) first.
 */
export const recordId = {
  /** A line (or multiline event) of a tailed file: file fingerprint + byte offset of its first byte. */
  file: (agentId: string, sourceId: string, fingerprint: string, offset: number): string =>
    join(agentId, sourceId, 'f', fingerprint, String(offset)),
  /** `file(...)` without the offset, checked once: `filePrefix(a, s, fp) + offset === file(a, s, fp, offset)`. */
  filePrefix: (agentId: string, sourceId: string, fingerprint: string): string => `${join(agentId, sourceId, 'f', fingerprint)}:`,
  /** A row of a dropped file: the file's sha256 + row index (0 for a whole-file blob). */
  drop: (agentId: string, sourceId: string, sha256: string, row: number): string =>
    join(agentId, sourceId, 'd', sha256, String(row)),
  /**
   * An item of a polled API: a hash of what the record is (its `idField` value, or its canonical JSON with
   * the endpoint), not of where in a response it stood, so polling the same list again yields the same ids.
   */
  poll: (agentId: string, sourceId: string, recordKey: string): string => join(agentId, sourceId, 'p', recordKey),
  /** An item of a pushed batch: the request id (client-supplied idempotency key or generated) + index. */
  push: (agentId: string, sourceId: string, requestId: string, index: number): string =>
    join(agentId, sourceId, 'h', requestId, String(index)),
  /**
   * An MQTT message: a hash of the broker, topic and what the message is (its content, or a message id the
   * publisher set), never the packet id, which the broker reuses; a redelivery after a reconnect or a crash
   * therefore has the same id.
   */
  mqtt: (agentId: string, sourceId: string, messageKey: string): string => join(agentId, sourceId, 'm', messageKey),
} as const;

function join(...parts: string[]): string {
  for (const part of parts) {
    if (part.length === 0 || part.includes(':')) {
      throw new TypeError(`record id part ${JSON.stringify(part)} must be non-empty and contain no ':'`);
    }
  }
  return parts.join(':');
}
