import { describe, expect, it } from "vitest";
import { at, type DatabaseFactory, plus, race, tag, useDatabase, withHandles } from "./harness";

const T0 = at("2026-11-25T08:00:00.000Z");
const WINDOW = 60_000;

export function countersContract(factory: DatabaseFactory): void {
  describe("counters", () => {
    const db = useDatabase(factory);
    // Counters are read the way login reads them: with the account, in key order, null where not live.
    const read = async (keys: string[], now: Date) =>
      (await db().users.findByEmailWithCounters(`nobody-${tag()}@example.test`, keys, now)).counters;
    const get = async (key: string, now: Date) => (await read([key], now))[0];

    it("counts hits in a fixed window from the first hit, then starts a new window", async () => {
      const key = `c-${tag()}`;
      expect(await get(key, T0)).toBeNull();
      const first = await db().counters.increment(key, WINDOW, T0);
      expect(first.count).toBe(1);
      expect(first.resetAt.toISOString()).toBe(plus(T0, WINDOW).toISOString());
      expect((await db().counters.increment(key, WINDOW, plus(T0, 10_000))).count).toBe(2);
      const third = await db().counters.increment(key, WINDOW, plus(T0, WINDOW - 1));
      expect(third).toEqual({ count: 3, resetAt: plus(T0, WINDOW) });
      expect(await get(key, plus(T0, WINDOW - 1))).toEqual({
        count: 3,
        resetAt: plus(T0, WINDOW),
      });

      // At resetAt the window is over: get() sees nothing and the next hit opens a new window.
      expect(await get(key, plus(T0, WINDOW))).toBeNull();
      const next = await db().counters.increment(key, WINDOW, plus(T0, WINDOW + 5));
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
      expect((await get(key, T0))?.count).toBe(20);
    });

    it("reads several counters in key order, null where absent or expired, and resets several at once", async () => {
      const [a, b, gone, none] = [`c-${tag()}`, `c-${tag()}`, `c-${tag()}`, `c-${tag()}`];
      expect(await read([], T0)).toEqual([]);
      await db().counters.increment(a, WINDOW, T0);
      await db().counters.increment(b, 2 * WINDOW, T0);
      await db().counters.increment(b, 2 * WINDOW, T0);
      await db().counters.increment(gone, WINDOW / 2, T0);
      const later = plus(T0, WINDOW / 2);
      expect(await read([none, b, gone, a], later)).toEqual([
        null,
        { count: 2, resetAt: plus(T0, 2 * WINDOW) },
        null,
        { count: 1, resetAt: plus(T0, WINDOW) },
      ]);

      await db().counters.reset(a, b, none);
      expect(await read([a, b], later)).toEqual([null, null]);
      // The expired one was not named, so it is still stored: a clock inside its window sees it.
      expect(await get(gone, T0)).toEqual({ count: 1, resetAt: plus(T0, WINDOW / 2) });
      await db().counters.reset();
    });

    it("resets a key and deletes expired windows", async () => {
      const key = `c-${tag()}`;
      await db().counters.increment(key, WINDOW, T0);
      await db().counters.reset(key);
      expect(await get(key, T0)).toBeNull();
      expect((await db().counters.increment(key, WINDOW, T0)).count).toBe(1);

      const old = at("1971-01-01T00:00:00.000Z");
      const stale = `c-${tag()}`;
      await db().counters.increment(stale, WINDOW, old);
      expect(await db().counters.deleteExpiredBefore(plus(old, 2 * WINDOW))).toBeGreaterThanOrEqual(1);
      // Deleted, not just expired: a clock inside the old window finds nothing either.
      expect(await get(stale, old)).toBeNull();
      expect(await get(key, T0)).not.toBeNull();
    });
  });
}
