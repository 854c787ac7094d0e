/**
 * The one way a page loads data: `useResource(load, deps, { refreshMs })` answers loading / error / data,
 * reloads when `deps` change, refreshes every `refreshMs` while the page is shown, and keeps showing the last
 * data while a refresh is under way or failed (the error is reported next to it). Resource hooks
 * (features/<screen>/use-*.ts) wrap it; leaf components get data as props and never fetch.
 */
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[], options: { refreshMs?: number } = {}): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loadRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState((s) => ({ data: s.data, error, loading: false }));
      },
    );
    return () => controller.abort();
    // `deps` is the caller's: the resource reloads when they change, like useEffect's own list.
  }, [...deps, tick]);

  useEffect(() => {
    if (options.refreshMs === undefined) return;
    const timer = setInterval(reload, options.refreshMs);
    return () => clearInterval(timer);
  }, [options.refreshMs, reload]);

  return { ...state, reload };
}
