// Both backends: what `npm run admin` runs on D1 (wrangler d1 execute) and on Postgres (DATABASE_URL):
// create-admin makes the first, verified admin of a fresh deployment, whose password the app accepts,
// and never takes over an address someone already registered (promote on Postgres: test/pg-redis/admin-postgres.test.ts).
import { env } from "cloudflare:workers";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { hashPasswordForApp, randomPassword } from "../../scripts/admin-password";
import { createAdminSql, POSTGRES_SQL } from "../../scripts/admin-sql";
import { scryptHasher } from "../../src/auth/password";
import { createVerifiedUser, testClient, uniqueEmail } from "../helpers";

const postgresUrl = typeof env.DATABASE_URL === "string" && env.DATABASE_URL ? env.DATABASE_URL : null;

async function onPostgres<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl! });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs create-admin as the script would on this backend; returns the rows it printed from. */
async function createAdmin(email: string, hash: string): Promise<unknown[]> {
  if (postgresUrl) {
    return onPostgres(async (c) => {
      const args = [crypto.randomUUID(), email, email.toLowerCase(), hash, new Date()];
      return (await c.query(POSTGRES_SQL.createAdmin, args)).rows;
    });
  }
  const sql = createAdminSql(email, hash, Date.now(), crypto.randomUUID());
  return (await env.DB.prepare(sql).all()).results;
}

describe("npm run admin -- create-admin", () => {
  it("creates a verified admin whose generated password signs in", async () => {
    const email = uniqueEmail("first-admin");
    const password = randomPassword();
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const hash = await hashPasswordForApp(password);
    // Today's format, so the first sign-in has nothing to rewrite.
    expect(hash).toMatch(/^\$scrypt\$ln=14,r=8,p=1,k=5\$/);
    expect(await scryptHasher.verify(password, hash)).toEqual({ ok: true, needsRehash: false });
    const rows = await createAdmin(email, hash);
    expect(rows).toEqual([expect.objectContaining({ email, role: "admin" })]);

    // The real hasher: the point is that the app accepts the script's scrypt hash.
    const client = testClient({ passwords: scryptHasher });
    const login = await client.call("POST", "/auth/login", { json: { email, password } });
    expect(login.status).toBe(200);
    const me = await client.call("GET", "/auth/me", { token: login.body.access_token });
    expect(me.body).toMatchObject({ email, role: "admin", is_verified: true });
  });

  it("does not take over an address that is already registered", async () => {
    const client = testClient();
    const owner = await createVerifiedUser(client);
    const rows = await createAdmin(owner.email.toUpperCase(), await hashPasswordForApp(randomPassword()));
    expect(rows).toEqual([]);
    // The owner's password still works and the role is unchanged.
    const login = await client.call("POST", "/auth/login", {
      json: { email: owner.email, password: owner.password },
    });
    expect(login.status).toBe(200);
    const me = await client.call("GET", "/auth/me", { token: login.body.access_token });
    expect(me.body.role).toBe("user");
  });
});
