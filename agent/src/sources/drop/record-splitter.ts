/**
 * Splits streamed text into records at newlines, except newlines inside a quoted CSV field. We split
 * ourselves (and parse each record with csv-parse afterwards) because csv-parse's own recovery after a
 * broken quote swallows the rows that follow it; here one broken row costs one row.
 *
 * A quote still open after `maxRecordChars` (or at the end of the input) is taken as a stray quote: the
 * record is cut at its first newline, that line becomes a parse error, and scanning resumes after it.
 */
export interface SplitRecord {
  text: string;
  /** 1-based line number of the record's first line. */
  line: number;
  /** Why the record is already known to be bad (an unclosed quote, a record over the size limit). */
  error?: string;
}

export class RecordSplitter {
  private readonly quote: number | undefined;
  private readonly maxRecordChars: number;
  private buffer = '';
  /** How far `buffer` has been scanned, and the quote state there. */
  private scanned = 0;
  private inQuotes = false;
  private line = 1;
  private first = true;

  constructor(options: { quote?: string; maxRecordChars: number; firstLine?: number }) {
    this.quote = options.quote === undefined ? undefined : options.quote.charCodeAt(0);
    this.maxRecordChars = options.maxRecordChars;
    this.line = options.firstLine ?? 1;
  }

  push(text: string): SplitRecord[] {
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.buffer += text;
    return this.scan(false);
  }

  end(): SplitRecord[] {
    return this.scan(true);
  }

  private scan(atEnd: boolean): SplitRecord[] {
    const out: SplitRecord[] = [];
    const buf = this.buffer;
    let start = 0;
    let i = this.scanned;
    for (;;) {
      for (; i < buf.length; i++) {
        const c = buf.charCodeAt(i);
        if (c === this.quote) this.inQuotes = !this.inQuotes;
        else if (c === 10 && !this.inQuotes) break;
      }
      if (i < buf.length) {
        this.emit(out, buf.slice(start, i));
        start = i + 1;
        i = start;
        continue;
      }
      const pending = buf.length - start;
      if (this.inQuotes && (atEnd || pending > this.maxRecordChars)) {
        // A stray quote: give up on the quoted record at its first newline, then rescan the rest unquoted.
        const nl = buf.indexOf('\n', start);
        if (nl >= 0) {
          this.emit(out, buf.slice(start, nl), 'quote not closed');
          start = nl + 1;
          i = start;
          this.inQuotes = false;
          continue;
        }
        if (atEnd) {
          this.emit(out, buf.slice(start), 'quote not closed');
          start = buf.length;
        }
      } else if (!this.inQuotes && atEnd && pending > 0) {
        this.emit(out, buf.slice(start));
        start = buf.length;
      }
      break;
    }
    this.buffer = buf.slice(start);
    this.scanned = this.buffer.length;
    return out;
  }

  private emit(out: SplitRecord[], raw: string, error?: string): void {
    const line = this.line;
    let newlines = 1;
    for (let j = raw.indexOf('\n'); j >= 0; j = raw.indexOf('\n', j + 1)) newlines++;
    this.line += newlines;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.length > this.maxRecordChars) {
      out.push({
        text: text.slice(0, this.maxRecordChars),
        line,
        error: `record of ${text.length} characters is over the limit of ${this.maxRecordChars}; raw text truncated`,
      });
      return;
    }
    out.push(error === undefined ? { text, line } : { text, line, error });
  }
}
