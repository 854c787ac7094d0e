/** The original message: as text (an envelope indented) when it is UTF-8, always as a hex dump too. */
import { useMemo, useState } from 'react';
import type { DlqEntryView } from '../../api/dlq.ts';
import { bytes } from '../../ui/format.ts';
import { decodeBase64, hexDump, readableText } from './dlq-view.ts';

export function OriginalBytes({ entry }: { entry: Pick<DlqEntryView, 'originalText' | 'originalBase64' | 'size'> }) {
  const text = useMemo(() => readableText(entry), [entry]);
  const [view, setView] = useState<'text' | 'hex'>(text === undefined ? 'hex' : 'text');
  const dump = useMemo(() => (view === 'hex' ? hexDump(decodeBase64(entry.originalBase64)) : undefined), [view, entry.originalBase64]);
  return (
    <div className="original">
      <div className="toolbar" role="group" aria-label="Show the original as">
        <button type="button" className="secondary" aria-pressed={view === 'text'} disabled={text === undefined} onClick={() => setView('text')}>
          Text
        </button>
        <button type="button" className="secondary" aria-pressed={view === 'hex'} onClick={() => setView('hex')}>
          Hex
        </button>
        {text === undefined && <span className="sub">Not UTF-8 text: shown as bytes.</span>}
      </div>
      {view === 'text' && text !== undefined ? (
        <pre className="original-text" aria-label="Original as text">
          {text}
        </pre>
      ) : (
        dump && (
          <>
            <pre className="original-hex" aria-label="Original as hex">
              {dump.lines.map((l) => `${l.offset}  ${l.hex.padEnd(48)}  ${l.ascii}`).join('\n')}
            </pre>
            {dump.shown < entry.size && <p className="sub">The first {bytes(dump.shown)} of {bytes(entry.size)}.</p>}
          </>
        )
      )}
    </div>
  );
}
