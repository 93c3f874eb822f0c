import { useCallback, useEffect, useState } from 'preact/hooks';
import { api } from './api';

export interface PageProps {
  onSignOut: () => void;
}

/** GET a path once (and again on reload(), or every `refreshMs`); errors are kept for display. */
export function useApi<T>(path: string | null, refreshMs?: number) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((value) => value + 1), []);

  useEffect(() => {
    if (!path) return;
    const controller = new AbortController();
    api<T>(path, { signal: controller.signal }).then(
      (value) => {
        setData(value);
        setError(null);
      },
      (failure: Error) => {
        if (!controller.signal.aborted) setError(failure.message);
      },
    );
    return () => controller.abort();
  }, [path, tick]);

  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(reload, refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs, reload]);

  return { data, error, reload };
}

export function ErrorNote(props: { error: string | null }) {
  return props.error ? <p role="alert" class="error">{props.error}</p> : null;
}
