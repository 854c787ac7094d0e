/** The loading, empty and error states every screen shows the same way. */
import type { ReactNode } from 'react';
import { describeError } from './describe-error.ts';

export function Loading({ what }: { what: string }) {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <p>{describeError(error)}</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** What the last action of a form came to: its error, or the sentence saying what it did. */
export function ActionOutcome({ error, done }: { error: unknown; done: string | null }) {
  if (error !== undefined) return <ErrorState error={error} />;
  return done === null ? null : (
    <p className="config-ok" role="status">
      {done}
    </p>
  );
}
