// Postgres only: a keyset page must seek the (created_at, id) index to its cursor, not scan down to it.
import { env } from "cloudflare:workers";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeCursor } from "../../src/storage/cursor";
import { LazyPgClient } from "../../src/storage/postgres/connection";
import { database } from "../helpers";
import { seedUsers } from "../users/admin-helpers";
import { requireSetting } from "./settings";

const postgresUrl = requireSetting(env, "DATABASE_URL");

/** Every index condition in a plan (EXPLAIN FORMAT JSON), depth first. */
function indexConds(node: Record<string, unknown>): string[] {
  const own = typeof node["Index Cond"] === "string" ? [node["Index Cond"] as string] : [];
  const children = (node.Plans as Record<string, unknown>[] | undefined) ?? [];
  return [...own, ...children.flatMap(indexConds)];
}

/** The plan Postgres would use for `text`, with sequential scans and sorts priced out of the way. */
async function planOf(text: string, values: unknown[]): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: postgresUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    // A test table has a handful of rows, where a sequential scan wins: forbid it, so the plan shows
    // what the index is asked to do (an index condition, or only a filter over a full backward scan).
    await client.query("set enable_seqscan = off");
    await client.query("set enable_bitmapscan = off");
    const { rows } = await client.query(`explain (format json) ${text}`, values);
    return (rows[0]["QUERY PLAN"] as { Plan: Record<string, unknown> }[])[0]!.Plan;
  } finally {
    await client.end().catch(() => {});
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("keyset pages on Postgres", () => {
  it("a cursor page is an index condition on created_at, not a filter over the newer rows", async () => {
    const [user] = await seedUsers([`plan-${crypto.randomUUID()}@example.com`], () => new Date());
    const sent: { text: string; values: unknown[] }[] = [];
    const original = LazyPgClient.prototype.query;
    vi.spyOn(LazyPgClient.prototype, "query").mockImplementation(function (
      this: LazyPgClient,
      config,
      values,
    ) {
      sent.push({ text: config.text, values: config.values ?? values ?? [] });
      return original.call(this, config, values);
    });
    const cursor = encodeCursor({ createdAt: user!.createdAt.getTime(), id: user!.id });
    const db = database();
    try {
      await db.users.list({ limit: 50, cursor, emailPrefix: null });
      await db.audit.list({ limit: 50, cursor });
    } finally {
      await db.close();
    }
    const lists = sent.filter((q) => /order by/i.test(q.text) && /created_at/.test(q.text));
    expect(lists.length).toBe(2);
    for (const q of lists) {
      const conds = indexConds(await planOf(q.text, q.values));
      expect(
        conds.some((c) => c.includes("created_at <=")),
        `${q.text}\n${conds.join("\n")}`,
      ).toBe(true);
    }
  });
});
