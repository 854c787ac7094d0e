/**
 * One button's action at a time: `run(step)` marks it busy, clears the last error, and keeps the error the
 * step throws for the component to show (a failed action is shown where it was asked for, never thrown).
 */
import { useCallback, useState } from 'react';

export interface Action {
  busy: boolean;
  error: unknown;
  run: (step: () => Promise<void>) => Promise<void>;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = useCallback(async (step: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await step();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}
