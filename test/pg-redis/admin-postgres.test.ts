// Postgres only: `npm run admin -- promote|demote` with DATABASE_URL runs POSTGRES_SQL.roleChange.
import { env } from "cloudflare:workers";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { POSTGRES_SQL } from "../../scripts/admin-sql";
import { auditActions, createVerifiedUser, testClient } from "../helpers";
import { requireSetting } from "./settings";

const postgresUrl = requireSetting(env, "DATABASE_URL");

async function onPostgres<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

describe("npm run admin -- promote|demote on Postgres", () => {
  it("changes the role in one statement and records the audit entry only when it changes", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const promote = (role: string, action: string) =>
      onPostgres(async (c) => {
        const metadata = JSON.stringify({ reason: "cli" });
        const args = [user.email.toLowerCase(), role, new Date(), crypto.randomUUID(), action, metadata];
        return (await c.query(POSTGRES_SQL.roleChange, args)).rows;
      });
    expect(await promote("admin", "role_promoted")).toEqual([
      expect.objectContaining({ id: user.id, role: "admin" }),
    ]);
    // Again: nothing changes, no second audit entry, the current role is still reported.
    expect(await promote("admin", "role_promoted")).toEqual([expect.objectContaining({ role: "admin" })]);
    expect((await auditActions(user.id)).filter((a) => a === "role_promoted")).toHaveLength(1);
    const me = await client.call("GET", "/auth/me", { token: user.tokens.access_token });
    expect(me.body.role).toBe("admin");
    // An unknown email: no row, so the script says "No user".
    const missing = await onPostgres(
      async (c) =>
        (
          await c.query(POSTGRES_SQL.roleChange, [
            "nobody@example.com",
            "admin",
            new Date(),
            crypto.randomUUID(),
            "role_promoted",
            "{}",
          ])
        ).rows,
    );
    expect(missing).toEqual([]);
  });
});
