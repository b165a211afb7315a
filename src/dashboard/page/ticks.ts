// The pages refresh by polling: a counter that goes up every `ms`, for effects to depend on.
import { useEffect, useState } from 'preact/hooks';

export function useTicks(ms: number): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return tick;
}
