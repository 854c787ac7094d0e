/**
 * Turns the bytes of one file into records, chunk by chunk, knowing the absolute byte offset of each one.
 * Pure (no I/O) so every edge case is unit-tested: lines split across chunks, CRLF, lines over maxLineBytes
 * (a parseError record with the first maxLineBytes, the rest skipped to the next newline), invalid UTF-8
 * (a parseError record with the raw bytes in base64) and multiline events.
 *
 * `safeOffset` is where a restart must resume: everything before it has been turned into records (or
 * deliberately skipped, see `skipping`); a partial line or a pending multiline event starts after it.
 */
import { isUtf8 } from 'node:buffer';

export type SplitRecord =
  | { offset: number; text: string }
  /** `raw` mode: the line's UTF-8 bytes (without newline), a view valid until the next `push`. */
  | { offset: number; bytes: Buffer }
  | { offset: number; parseError: { reason: string; raw: string; rawEncoding: 'utf8' | 'base64' } };

export interface SplitterOptions {
  maxLineBytes: number;
  multiline?: { startPattern: RegExp; maxLines: number } | undefined;
  /**
   * Lines come out as bytes, not strings (ignored with multiline, whose pattern needs text): the file
   * source's hot path copies them into envelopes without decoding. Invalid UTF-8 is still a parseError.
   */
  raw?: boolean;
}

interface PendingEvent {
  offset: number;
  lines: string[];
  end: number;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  readonly #maxLineBytes: number;
  readonly #multiline: SplitterOptions['multiline'];
  readonly #raw: boolean;
  /** Bytes of a line whose newline has not arrived yet. */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #partialStart = 0;
  /** Inside a line longer than maxLineBytes: discard up to the next newline. */
  #skipping: boolean;
  #position: number;
  #event: PendingEvent | undefined;

  constructor(options: SplitterOptions, start: { offset: number; skipping?: boolean }) {
    this.#maxLineBytes = options.maxLineBytes;
    this.#multiline = options.multiline;
    this.#raw = options.raw === true && options.multiline === undefined;
    this.#position = start.offset;
    this.#partialStart = start.offset;
    this.#skipping = start.skipping ?? false;
  }

  /** Where the next chunk must start (the read position). */
  get position(): number {
    return this.#position;
  }

  get skipping(): boolean {
    return this.#skipping;
  }

  get safeOffset(): number {
    if (this.#event) return this.#event.offset;
    if (this.#partialBytes > 0) return this.#partialStart;
    return this.#position;
  }

  get hasPendingEvent(): boolean {
    return this.#event !== undefined;
  }

  get hasPartialLine(): boolean {
    return this.#partialBytes > 0;
  }

  /** Feeds the bytes that start at `position`; returns the records completed by them. */
  push(chunk: Buffer, out: SplitRecord[] = []): SplitRecord[] {
    const start = this.#position;
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (this.#skipping) {
        if (nl < 0) break;
        this.#skipping = false;
        pos = nl + 1;
        continue;
      }
      if (nl < 0) {
        const rest = chunk.subarray(pos);
        if (this.#partialBytes === 0) this.#partialStart = start + pos;
        this.#partial.push(Buffer.from(rest)); // copy: the caller reuses its read buffer
        this.#partialBytes += rest.length;
        if (this.#partialBytes > this.#maxLineBytes) {
          this.#tooLong(this.#partialStart, Buffer.concat(this.#partial), out);
          this.#clearPartial();
          this.#skipping = true;
        }
        break;
      }
      let line: Buffer;
      let lineOffset: number;
      if (this.#partialBytes > 0) {
        line = Buffer.concat([...this.#partial, chunk.subarray(pos, nl)]);
        lineOffset = this.#partialStart;
        this.#clearPartial();
      } else {
        line = chunk.subarray(pos, nl);
        lineOffset = start + pos;
      }
      pos = nl + 1;
      if (line.length > this.#maxLineBytes) this.#tooLong(lineOffset, line, out);
      else this.#line(lineOffset, line, start + pos, out);
    }
    this.#position = start + chunk.length;
    return out;
  }

  /** Emits the pending multiline event (timeout, end of a rotated file). */
  flushEvent(out: SplitRecord[] = []): SplitRecord[] {
    if (this.#event) {
      out.push({ offset: this.#event.offset, text: this.#event.lines.join('\n') });
      this.#event = undefined;
    }
    return out;
  }

  /** End of a file that will not grow again: the last line without a newline becomes a record too. */
  flushAll(out: SplitRecord[] = []): SplitRecord[] {
    if (this.#partialBytes > 0) {
      const line = Buffer.concat(this.#partial);
      const offset = this.#partialStart;
      this.#clearPartial();
      this.#line(offset, line, this.#position, out);
    }
    return this.flushEvent(out);
  }

  #clearPartial(): void {
    this.#partial = [];
    this.#partialBytes = 0;
  }

  #tooLong(offset: number, line: Buffer, out: SplitRecord[]): void {
    this.flushEvent(out);
    const kept = line.subarray(0, this.#maxLineBytes);
    const utf8 = isUtf8(kept);
    out.push({
      offset,
      parseError: {
        reason: `line longer than maxLineBytes (${this.#maxLineBytes}): the first ${this.#maxLineBytes} bytes are kept, the rest up to the next newline is skipped`,
        raw: kept.toString(utf8 ? 'utf8' : 'base64'),
        rawEncoding: utf8 ? 'utf8' : 'base64',
      },
    });
  }

  #line(offset: number, bytes: Buffer, end: number, out: SplitRecord[]): void {
    const body = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.subarray(0, bytes.length - 1) : bytes;
    if (!isUtf8(body)) {
      this.flushEvent(out);
      out.push({ offset, parseError: { reason: 'invalid UTF-8', raw: body.toString('base64'), rawEncoding: 'base64' } });
      return;
    }
    if (this.#raw) {
      out.push({ offset, bytes: body });
      return;
    }
    const text = body.toString('utf8');
    const multiline = this.#multiline;
    if (!multiline) {
      out.push({ offset, text });
      return;
    }
    if (this.#event && !multiline.startPattern.test(text)) {
      this.#event.lines.push(text);
      this.#event.end = end;
      if (this.#event.lines.length >= multiline.maxLines) this.flushEvent(out);
      return;
    }
    this.flushEvent(out);
    this.#event = { offset, lines: [text], end };
  }
}
