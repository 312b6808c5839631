import { useEffect, useRef, useState } from 'react';

/**
 * `value`, changing at most once per `ms` (the latest value wins, shown when the interval is up);
 * with `ms` 0 it follows `value` at once. For views that would otherwise recompute on every token.
 */
export function useThrottled<T>(value: T, ms: number): T {
  const [shown, setShown] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    if (Object.is(value, shown)) return;
    const wait = ms <= 0 ? 0 : last.current + ms - performance.now();
    if (wait <= 0) {
      last.current = performance.now();
      setShown(() => value);
      return;
    }
    const timer = setTimeout(() => {
      last.current = performance.now();
      setShown(() => value);
    }, wait);
    return () => clearTimeout(timer);
  }, [value, shown, ms]);
  return ms <= 0 ? value : shown;
}
