// `npm run import:fastapi` against a real Postgres holding the FastAPI schema (in its own schema of the
// test database), importing into this service's Postgres; then the imported accounts sign in over HTTP.
import { env } from "cloudflare:workers";
import bcrypt from "bcryptjs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Report, runImport } from "../../scripts/import-fastapi";
import { scryptHasher } from "../../src/auth/password";
import { auditEntries, database, testClient } from "../helpers";
import { requireSetting } from "./settings";

const target = requireSetting(env as unknown as Record<string, unknown>, "DATABASE_URL");
const schema = `fastapi_${crypto.randomUUID().slice(0, 8)}`;
const source = `${target}${target.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const base = Math.floor(Math.random() * 2e6) * 1000;
const email = (name: string) => `${name}.${base}@example.com`;

async function sql(text: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: target });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end().catch(() => {});
  }
}

beforeAll(async () => {
  const hash = bcrypt.hashSync("old-password", 4);
  await sql(`create schema ${schema}`);
  await sql(`create table ${schema}.users(id serial primary key, username varchar unique not null, email varchar unique not null,
    hashed_password varchar not null, role varchar not null default 'user', is_active boolean, is_verified boolean,
    verification_token varchar unique null, two_factor_secret varchar null, two_factor_enabled boolean)`);
  await sql(`create table ${schema}.activity_logs(id serial primary key, user_id integer references ${schema}.users(id),
    action varchar, timestamp timestamp)`);
  await sql(`select setval('${schema}.users_id_seq', ${base})`);
  await sql(
    `insert into ${schema}.users(username,email,hashed_password,role,is_active,is_verified,two_factor_secret,two_factor_enabled) values
     ($1,$2,$3,'admin',true,true,'JBSWY3DPEHPK3PXP',true), ($4,$5,$3,'user',true,true,null,false),
     ($6,$7,$3,'user',true,true,null,false), ($8,$9,'not-a-bcrypt-hash','user',true,true,null,false)`,
    [
      `alice${base}`,
      email("alice"),
      hash,
      `Bob${base}`,
      email("Bob"),
      `bob2${base}`,
      email("bob").toUpperCase(),
      `carol${base}`,
      email("carol"),
    ],
  );
  await sql(
    `insert into ${schema}.activity_logs(user_id,action,timestamp) values ($1,'register',now()),($1,'login',now()),($2,'2fa_enable',now())`,
    [base + 1, base + 2],
  );
});

afterAll(async () => {
  await sql(`drop schema ${schema} cascade`);
});

describe("npm run import:fastapi into Postgres", () => {
  // One test: the pg-redis setup empties the tables after each test.
  it("imports users and logs, reports skipped rows and why; a rerun changes nothing; they sign in", async () => {
    const first: Report = await runImport(
      { from: source, to: target, persistTo: undefined, batch: 2 },
      () => {},
    );
    expect(first.users).toEqual({ read: 4, inserted: 2, alreadyPresent: 0 });
    expect(first.skipped).toEqual([
      { id: base + 3, reason: "duplicate email (case-insensitive)" },
      { id: base + 4, reason: "malformed password hash" },
    ]);
    expect(first.auditEntries).toEqual({ read: 3, inserted: 3, alreadyPresent: 0 });
    const db = database();
    try {
      const alice = await db.users.findById(String(base + 1));
      expect(alice).toMatchObject({
        email: email("alice"),
        username: `alice${base}`,
        role: "admin",
        twoFactorEnabled: true,
      });
    } finally {
      await db.close();
    }
    const entries = await auditEntries(String(base + 1));
    expect(entries.map((e) => e.action).sort()).toEqual(["login_succeeded", "register"]);
    expect(entries[0]!.metadata.imported).toBe(true);

    const again = await runImport({ from: source, to: target, persistTo: undefined, batch: 100 }, () => {});
    expect(again.users).toEqual({ read: 4, inserted: 0, alreadyPresent: 2 });
    expect(again.auditEntries).toEqual({ read: 3, inserted: 0, alreadyPresent: 3 });

    const client = testClient({ passwords: scryptHasher });
    const bob = await client.call("POST", "/auth/login", {
      form: { username: `bob${base}`, password: "old-password" },
    });
    expect(bob.status).toBe(200);
    expect(bob.body.token_type).toBe("bearer");
    const alice = await client.call("POST", "/auth/login", {
      json: { email: email("alice"), password: "old-password" },
    });
    expect(alice.status).toBe(200);
    expect(alice.body.mfa_required).toBe(true);
  });

  it("an unreachable source or a missing table is one clear error", async () => {
    await expect(
      runImport(
        { from: "postgres://postgres@127.0.0.1:1/none", to: target, persistTo: undefined, batch: 10 },
        () => {},
      ),
    ).rejects.toThrow(/cannot reach the FastAPI database/);
    await expect(
      runImport({ from: target, to: target, persistTo: undefined, batch: 10 }, () => {}),
    ).rejects.toThrow(/not the FastAPI schema/);
  });
});
