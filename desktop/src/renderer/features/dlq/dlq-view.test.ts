import { describe, expect, it } from 'vitest';
import type { DlqDryRunResponse } from '../../api/dlq.ts';
import { decodeBase64, dryRunSummary, hexDump, pinnableDataset, readableText } from './dlq-view.ts';

const result = (extra: Partial<DlqDryRunResponse>): DlqDryRunResponse => ({
  matched: 6,
  total: 6,
  truncated: false,
  against: null,
  wouldPass: 4,
  wouldFail: 2,
  byReason: [],
  samples: [],
  ...extra,
});

describe('the original bytes', () => {
  it('decodes base64 to the exact bytes, non-UTF-8 ones too', () => {
    expect([...decodeBase64('AP/+gA==')]).toEqual([0x00, 0xff, 0xfe, 0x80]);
    expect([...decodeBase64('')]).toEqual([]);
  });

  it('dumps 16 bytes a line with offset, hex (a gap after 8) and printable ASCII', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"id":"r1","x":1}'), 0x00, 0xff]);
    const { lines, shown } = hexDump(bytes);
    expect(shown).toBe(19);
    expect(lines).toEqual([
      { offset: '00000000', hex: '7b 22 69 64 22 3a 22 72  31 22 2c 22 78 22 3a 31', ascii: '{"id":"r1","x":1' },
      { offset: '00000010', hex: '7d 00 ff', ascii: '}..' },
    ]);
  });

  it('stops at maxBytes and says how much it showed', () => {
    const { lines, shown } = hexDump(new Uint8Array(100), 40);
    expect(shown).toBe(40);
    expect(lines).toHaveLength(3);
    expect(lines[2]!.hex).toBe('00 00 00 00 00 00 00 00');
  });

  it('indents an envelope, keeps other text as it is, and has no text for bytes that are not UTF-8', () => {
    expect(readableText({ originalText: '{"id":"r1","payload":{"t":"hot"}}' })).toBe('{\n  "id": "r1",\n  "payload": {\n    "t": "hot"\n  }\n}');
    expect(readableText({ originalText: 'a,b,c' })).toBe('a,b,c');
    expect(readableText({})).toBeUndefined();
  });
});

describe('the dry run', () => {
  it('pins the version of the filter’s dataset, or of the one dataset every chosen entry is of', () => {
    expect(pinnableDataset('orders', [{ dataset: 'meters' }])).toBe('orders');
    expect(pinnableDataset('', [{ dataset: 'meters' }, { dataset: 'meters' }])).toBe('meters');
    expect(pinnableDataset('', [{ dataset: 'meters' }, { dataset: 'orders' }])).toBeUndefined();
    expect(pinnableDataset('', [{ dataset: null }])).toBeUndefined();
    expect(pinnableDataset('', [])).toBeUndefined();
  });

  it('says in one sentence what would pass against what', () => {
    expect(dryRunSummary(result({ against: { dataset: 'meters', version: 2 } }))).toBe('Against schema version 2 of meters: 4 of 6 entries would pass, 2 would fail again.');
    expect(dryRunSummary(result({ total: 1, matched: 1, wouldPass: 1, wouldFail: 0 }))).toBe("Against each dataset's latest schema version: 1 of 1 entry would pass, 0 would fail again.");
    expect(dryRunSummary(result({ total: 4, matched: 9, truncated: true }))).toBe("Against each dataset's latest schema version, the oldest 4 of 9 entries checked: 4 would pass, 2 would fail again.");
  });
});
