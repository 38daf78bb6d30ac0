// LazyPgClient.exclusive(): a transaction on the per-request client, which concurrent calls share,
// must not take in their statements (they would run, and commit or roll back, inside it).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LazyPgClient } from "../../src/storage/postgres/connection";
import { requireSetting } from "./settings";

const DATABASE_URL = requireSetting(env, "DATABASE_URL");

const timeoutSetting = async (q: LazyPgClient | { query: LazyPgClient["query"] }): Promise<string> => {
  const result = await q.query({ text: "select current_setting('statement_timeout') as t" });
  return String(result.rows[0]?.t);
};

describe("LazyPgClient.exclusive", () => {
  it("keeps other callers' statements out of a transaction, and lets them run after it", async () => {
    const client = new LazyPgClient(DATABASE_URL);
    try {
      const outside = await timeoutSetting(client);
      let concurrent: Promise<string> | undefined;
      const inside = await client.exclusive(async (own) => {
        await own.query({ text: "begin" });
        await own.query({ text: "set local statement_timeout = '4321ms'" });
        // Sent while the transaction is open: it must wait for it, not run inside it.
        concurrent = timeoutSetting(client);
        await own.query({ text: "select pg_sleep(0.05)" });
        const seen = await timeoutSetting(own);
        await own.query({ text: "rollback" });
        return seen;
      });
      expect(inside).toBe("4321ms");
      expect(await concurrent).toBe(outside);
      expect(outside).not.toBe("4321ms");
    } finally {
      await client.end();
    }
  });

  it("lets statements already sent finish before the transaction begins", async () => {
    const client = new LazyPgClient(DATABASE_URL);
    try {
      const order: string[] = [];
      const earlier = client.query({ text: "select pg_sleep(0.05)" }).then(() => order.push("earlier"));
      await client.exclusive(async (own) => {
        order.push("exclusive");
        await own.query({ text: "select 1" });
      });
      await earlier;
      expect(order).toEqual(["earlier", "exclusive"]);
    } finally {
      await client.end();
    }
  });
});
