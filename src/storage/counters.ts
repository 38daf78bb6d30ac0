import type { CounterValue } from "./types";

interface CounterRow {
  key: string;
  count: number;
  resetAt: Date;
}

/** Counter rows in the order of `keys`; null for a key without a row or whose window is over at `now`. */
export function liveCounters(
  keys: readonly string[],
  rows: CounterRow[],
  now: Date,
): (CounterValue | null)[] {
  const live = new Map(
    rows
      .filter((r) => r.resetAt.getTime() > now.getTime())
      .map((r) => [r.key, { count: r.count, resetAt: r.resetAt }]),
  );
  return keys.map((k) => live.get(k) ?? null);
}
