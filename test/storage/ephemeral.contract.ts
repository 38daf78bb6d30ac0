import { describe, expect, it } from "vitest";
import { type EphemeralFactory, tag, useEphemeral } from "./harness";

export function ephemeralContract(factory: EphemeralFactory): void {
  describe("ephemeral store", () => {
    const store = useEphemeral(factory);

    it("sets, overwrites and reads a value", async () => {
      const key = `e:${tag()}`;
      expect(await store().getMany([key])).toEqual([null]);
      await store().set(key, "one", 120);
      expect(await store().getMany([key])).toEqual(["one"]);
      await store().set(key, "two", 120);
      expect(await store().getMany([key])).toEqual(["two"]);
    });

    it("reads many keys in order, with null for the missing ones", async () => {
      const [a, b, c] = [`e:${tag()}`, `e:${tag()}`, `e:${tag()}`];
      await store().set(a, "A", 120);
      await store().set(c, "C", 1); // below KV's minimum: raised, not refused
      expect(await store().getMany([a, b, c, a])).toEqual(["A", null, "C", "A"]);
      expect(await store().getMany([])).toEqual([]);
    });

    it("keeps values exactly (unicode, JSON, empty)", async () => {
      const key = `e:${tag()}`;
      const value = JSON.stringify({ sid: "s", note: "naïve ✓ 🚀", n: [1, 2] });
      await store().set(key, value, 120);
      expect(await store().getMany([key])).toEqual([value]);
      await store().set(key, "", 120);
      expect(await store().getMany([key])).toEqual([""]);
    });

    it("answers ping when reachable", async () => {
      await expect(store().ping()).resolves.toBeUndefined();
    });
  });
}
