import { describe, expect, it } from "vitest";
import { at, type DatabaseFactory, plus, race, tag, useDatabase, withHandles } from "./harness";

const T0 = at("2026-11-25T08:00:00.000Z");
const WINDOW = 60_000;

export function countersContract(factory: DatabaseFactory): void {
  describe("counters", () => {
    const db = useDatabase(factory);
    // Counters have no read of their own: the next hit's answer is how a caller sees the stored state.
    const hit = async (key: string, now: Date, windowMs = WINDOW) =>
      db().counters.increment(key, windowMs, now);

    it("counts hits in a fixed window from the first hit, then starts a new window", async () => {
      const key = `c-${tag()}`;
      const first = await hit(key, T0);
      expect(first.count).toBe(1);
      expect(first.resetAt.toISOString()).toBe(plus(T0, WINDOW).toISOString());
      expect((await hit(key, plus(T0, 10_000))).count).toBe(2);
      const third = await hit(key, plus(T0, WINDOW - 1));
      expect(third).toEqual({ count: 3, resetAt: plus(T0, WINDOW) });

      // At resetAt the window is over: the next hit opens a new window.
      const next = await hit(key, plus(T0, WINDOW + 5));
      expect(next).toEqual({ count: 1, resetAt: plus(T0, 2 * WINDOW + 5) });
    });

    it("loses no hit under concurrency", async () => {
      const key = `c-${tag()}`;
      const results = await withHandles(factory, 5, (handles) =>
        race(handles, 20, (h) => h.counters.increment(key, WINDOW, T0)),
      );
      expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      expect((await hit(key, T0)).count).toBe(21);
    });

    it("resets several counters at once, and only the named ones", async () => {
      const [a, b, kept, none] = [`c-${tag()}`, `c-${tag()}`, `c-${tag()}`, `c-${tag()}`];
      await hit(a, T0);
      await hit(b, T0, 2 * WINDOW);
      await hit(b, T0, 2 * WINDOW);
      await hit(kept, T0);

      await db().counters.reset(a, b, none);
      expect((await hit(a, T0)).count).toBe(1);
      expect((await hit(b, T0, 2 * WINDOW)).count).toBe(1);
      expect((await hit(kept, T0)).count).toBe(2);
      // No key named: nothing is deleted.
      await db().counters.reset();
      expect((await hit(kept, T0)).count).toBe(3);
    });

    it("deletes expired windows, not live ones", async () => {
      const key = `c-${tag()}`;
      await hit(key, T0);

      const old = at("1971-01-01T00:00:00.000Z");
      const stale = `c-${tag()}`;
      await hit(stale, old);
      expect(await db().counters.deleteExpiredBefore(plus(old, 2 * WINDOW), 1_000)).toBeGreaterThanOrEqual(1);
      // Deleted, not just expired: a hit inside the old window starts from nothing.
      expect((await hit(stale, old)).count).toBe(1);
      expect((await hit(key, T0)).count).toBe(2);
    });
  });
}
