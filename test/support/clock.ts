import { vi } from "vitest";

export interface FakeClock {
  now(): number;
  set(at: number | Date): void;
  advance(ms: number): void;
}

/**
 * Fakes `Date` only, from `start`: timers stay real, since workerd I/O and the Postgres and Redis
 * sockets need them. test/setup.ts puts the real clock back after every test; `withFakeClock` ends the
 * fake sooner, for a test that needs real time again afterwards.
 */
export function fakeClock(start: number | Date = Date.now()): FakeClock {
  let t = typeof start === "number" ? start : start.getTime();
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(t);
  return {
    now: () => t,
    set(at) {
      t = typeof at === "number" ? at : at.getTime();
      vi.setSystemTime(t);
    },
    advance(ms) {
      t += ms;
      vi.setSystemTime(t);
    },
  };
}

/** Runs `fn` on a fake clock and restores the real one even when `fn` throws. */
export async function withFakeClock<T>(
  fn: (clock: FakeClock) => Promise<T>,
  start: number | Date = Date.now(),
): Promise<T> {
  const clock = fakeClock(start);
  try {
    return await fn(clock);
  } finally {
    vi.useRealTimers();
  }
}
