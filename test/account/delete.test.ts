import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { personKeys } from "../../src/auth/throttle";
import { getConfig } from "../../src/config";
import type { Deps } from "../../src/deps";
import { newId } from "../../src/lib/crypto";
import { pendingRows, requestEmailLogin, verifyLink } from "../email-login/support";
import {
  auditEntries,
  BASE,
  createVerifiedUser,
  PASSWORD,
  type TestClient,
  type TestUser,
  testClient,
  tokenFromEmail,
  uniqueEmail,
} from "../helpers";
import { SoftwareAuthenticator } from "../passkeys/authenticator";
import { rawSql } from "../support/raw-sql";
import { testHasher } from "../support/test-hasher";
import { createTwoFactorUser, passwordStep, verify } from "../twofactor/support";
import { createAdmin } from "../users/admin-helpers";
import { withDb } from "./support";

const IP = "203.0.113.77";
const UA = "Mozilla/5.0 (erasure test)";
const FROM = { "CF-Connecting-IP": IP, "User-Agent": UA };

async function registerPasskey(client: TestClient, user: TestUser, auth: SoftwareAuthenticator) {
  const options = await client.call("POST", "/auth/passkeys/register/options", {
    token: user.tokens.access_token,
  });
  expect(options.status).toBe(200);
  const res = await client.call("POST", "/auth/passkeys/register", {
    token: user.tokens.access_token,
    json: { response: await auth.register(options.body) },
  });
  expect(res.status).toBe(201);
}

/** Rows still keyed by the user, table by table. */
async function leftovers(userId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of [
    "users",
    "sessions",
    "one_time_tokens",
    "oauth_accounts",
    "recovery_codes",
    "passkeys",
    "passkey_challenges",
  ]) {
    const column = table === "users" ? "id" : "user_id";
    const [row] = await rawSql(`select count(*) as n from ${table} where ${column} = ?`, [userId]);
    out[table] = Number(row?.n);
  }
  const [refresh] = await rawSql(
    "select count(*) as n from refresh_tokens where session_id in (select id from sessions where user_id = ?)",
    [userId],
  );
  out.refresh_tokens = Number(refresh?.n);
  return out;
}

const deleteMe = (client: TestClient, token: string) =>
  client.call("DELETE", "/auth/me", { token, headers: FROM });

describe("deleting the account", () => {
  it("erases the account and everything personal in one go; audit entries stay, without IP or user agent, and the chain verifies", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createTwoFactorUser(client);
    // A wrong second factor: the per-account 2FA failure counter.
    expect((await verify(client, await passwordStep(client, user.email), "000000")).status).toBe(401);
    // A failed sign-in from a known IP and browser: a throttle row, and something in the log to erase.
    await client.call("POST", "/auth/login", {
      json: { email: user.email, password: "wrong-password-1" },
      headers: FROM,
    });
    await registerPasskey(client, user, await SoftwareAuthenticator.create(BASE));
    await client.call("POST", "/auth/passkeys/register/options", { token: user.tokens.access_token });
    await client.call("POST", "/auth/password/forgot", { json: { email: user.email }, headers: FROM });
    const reset = tokenFromEmail(client.mailbox.last(user.email));
    // A pending email sign-in of the address (its row carries the address, not the user id).
    const pending = await requestEmailLogin(client, user.email);
    const now = new Date();
    await withDb(async (db) => {
      await db.oauthAccounts.link({
        provider: "google",
        providerUserId: `g-${newId()}`,
        userId: user.id,
        email: user.email,
        createdAt: now,
      });
    });
    const before = await leftovers(user.id);
    for (const table of [
      "users",
      "sessions",
      "refresh_tokens",
      "one_time_tokens",
      "oauth_accounts",
      "recovery_codes",
      "passkeys",
      "passkey_challenges",
    ])
      expect(before[table], table).toBeGreaterThan(0);
    // The throttle row (a failed sign-in) and the email flood counter (the reset email) of the address.
    const [throttleKey, counterKey] = await personKeys({ config: getConfig(env) } as Deps, user.email);
    const keyed = async () => [
      (await rawSql("select key from login_throttle where key = ?", [throttleKey])).length,
      (await rawSql("select key from counters where key = ?", [counterKey])).length,
      (await rawSql("select key from counters where key = ?", [`2fa-fail:${user.id}`])).length,
    ];
    expect(await keyed()).toEqual([1, 1, 1]);
    expect((await auditEntries(user.id)).some((e) => e.ip === IP)).toBe(true);

    const res = await deleteMe(client, user.tokens.access_token);
    expect(res.status).toBe(204);

    expect(await leftovers(user.id)).toEqual({
      users: 0,
      sessions: 0,
      refresh_tokens: 0,
      one_time_tokens: 0,
      oauth_accounts: 0,
      recovery_codes: 0,
      passkeys: 0,
      passkey_challenges: 0,
    });
    expect(await pendingRows(user.email.toLowerCase())).toEqual([]);
    expect((await verifyLink(client, pending.token)).status).toBe(400);
    expect(await keyed()).toEqual([0, 0, 0]);
    // Every token of the account is dead at once, and the address is free again.
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(401);
    expect(
      (await client.call("POST", "/auth/refresh", { json: { refresh_token: user.tokens.refresh_token } }))
        .status,
    ).toBe(401);
    expect(
      (
        await client.call("POST", "/auth/password/reset", {
          json: { token: reset, new_password: `${PASSWORD}-x` },
        })
      ).status,
    ).toBe(400);
    expect(
      (await client.call("POST", "/auth/login", { json: { email: user.email, password: PASSWORD } })).status,
    ).toBe(401);
    expect(await withDb((db) => db.users.findByEmail(user.email))).toBeNull();

    const entries = await auditEntries(user.id);
    expect(entries[0]?.action).toBe("account_deleted");
    expect(entries.length).toBeGreaterThan(3);
    for (const e of entries) {
      expect(e.ip, e.action).toBeNull();
      expect(e.userAgent, e.action).toBeNull();
      expect(e.personalSalt, e.action).toBeNull();
    }
    const dump = JSON.stringify(await rawSql("select * from audit_log where user_id = ?", [user.id]));
    for (const secret of [user.email, user.email.toLowerCase(), IP, UA, reset, user.tokens.refresh_token])
      expect(dump).not.toContain(secret);

    const verified = await client.call("GET", `/audit/verify?user_id=${user.id}`, {
      token: admin.tokens.access_token,
    });
    expect(verified.body).toEqual({ ok: true, checked: entries.length });
    const all = await client.call("GET", "/audit/verify", { token: admin.tokens.access_token });
    expect(all.body.ok).toBe(true);
  });

  it("still detects tampering after an erasure: an IP written back, or an edited entry, fails verification", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
      headers: FROM,
    });
    expect((await deleteMe(client, user.tokens.access_token)).status).toBe(204);
    const [victim] = await rawSql(
      "select id from audit_log where user_id = ? and action = 'login_succeeded' order by seq desc",
      [user.id],
    );
    await rawSql("update audit_log set ip = ? where id = ?", ["198.51.100.1", victim!.id]);
    const res = await client.call("GET", `/audit/verify?user_id=${user.id}`, {
      token: admin.tokens.access_token,
    });
    expect(res.body).toMatchObject({ ok: false, first_bad_id: victim!.id });
  });

  it("while the account lives, an IP edited in place fails verification (the digest covers it)", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
      headers: FROM,
    });
    const [row] = await rawSql(
      "select id, personal_salt, personal_digest from audit_log where user_id = ? and ip = ?",
      [user.id, IP],
    );
    expect(row?.personal_salt).toMatch(/^[0-9a-f]{32}$/);
    expect(row?.personal_digest).toMatch(/^[0-9a-f]{64}$/);
    await rawSql("update audit_log set ip = ? where id = ?", ["198.51.100.1", row!.id]);
    const res = await client.call("GET", `/audit/verify?user_id=${user.id}`, {
      token: admin.tokens.access_token,
    });
    expect(res.body).toMatchObject({ ok: false, first_bad_id: row!.id });
  });

  it("a stolen access token, and every other session's, stop working with the deletion; other accounts are untouched", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const otherSession = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    const bystander = await createVerifiedUser(client);
    expect((await client.call("GET", "/auth/me", { token: otherSession.body.access_token })).status).toBe(
      200,
    );
    expect((await deleteMe(client, user.tokens.access_token)).status).toBe(204);
    for (const token of [user.tokens.access_token, otherSession.body.access_token]) {
      const res = await client.call("GET", "/auth/sessions", { token });
      expect(res.status).toBe(401);
    }
    expect((await client.call("GET", "/auth/me", { token: bystander.tokens.access_token })).status).toBe(200);
    expect(
      (
        await client.call("POST", "/auth/refresh", {
          json: { refresh_token: bystander.tokens.refresh_token },
        })
      ).status,
    ).toBe(200);
  });

  it("a FastAPI access token of the account (cut-over) stops working too", async () => {
    const secret = "the-fastapi-service-secret-key-0123456789";
    const legacyEnv = {
      LEGACY_JWT_SECRET: secret,
      LEGACY_TOKENS_UNTIL: new Date(Date.now() + 86_400_000).toISOString(),
    };
    const client = testClient({}, legacyEnv);
    // An imported account keeps its numeric FastAPI id; it signs in here with its (migrated) password.
    const id = String(Math.floor(Math.random() * 1e15));
    const email = uniqueEmail("imported");
    const passwordHash = await testHasher.hash(PASSWORD);
    await withDb((db) =>
      db.users.create({
        id,
        email,
        fullName: null,
        passwordHash,
        role: "user",
        isVerified: true,
        now: new Date(),
      }),
    );
    const login = await client.call("POST", "/auth/login", { json: { email, password: PASSWORD } });
    expect(login.status).toBe(200);
    const user = { id, tokens: login.body as { access_token: string } };
    const old = await new SignJWT({ sub: user.id, role: "user", type: "access", jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 1800)
      .sign(new TextEncoder().encode(secret));
    expect((await client.call("GET", "/auth/me", { token: old })).status).toBe(200);
    expect((await deleteMe(client, user.tokens.access_token)).status).toBe(204);
    expect((await client.call("GET", "/auth/me", { token: old })).status).toBe(401);
  });

  it("a deletion racing refreshes: no 500, and afterwards no token of the account works", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const sessions = await Promise.all(
      Array.from({ length: 4 }, () =>
        client.call("POST", "/auth/login", { json: { email: user.email, password: PASSWORD } }),
      ),
    );
    const refreshTokens = [user.tokens.refresh_token, ...sessions.map((s) => s.body.refresh_token as string)];
    const results = await Promise.all([
      ...refreshTokens.flatMap((t) => [
        client.call("POST", "/auth/refresh", { json: { refresh_token: t } }),
        client.call("POST", "/auth/refresh", { json: { refresh_token: t } }),
      ]),
      deleteMe(client, user.tokens.access_token),
    ]);
    for (const r of results) expect([200, 204, 401]).toContain(r.status);
    expect(results[results.length - 1]!.status).toBe(204);
    const issued = results
      .filter((r) => r.status === 200)
      .map((r) => r.body as { access_token: string; refresh_token: string });
    for (const t of issued) {
      expect((await client.call("GET", "/auth/me", { token: t.access_token })).status).toBe(401);
      expect(
        (await client.call("POST", "/auth/refresh", { json: { refresh_token: t.refresh_token } })).status,
      ).toBe(401);
    }
    for (const t of refreshTokens)
      expect((await client.call("POST", "/auth/refresh", { json: { refresh_token: t } })).status).toBe(401);
    expect(await leftovers(user.id)).toMatchObject({ users: 0, sessions: 0, refresh_tokens: 0 });
  });

  it("two deletions at once: one 204, one entry account_deleted", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => deleteMe(client, user.tokens.access_token)),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 204)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 204).every((s) => s === 401)).toBe(true);
    expect((await auditEntries(user.id)).filter((e) => e.action === "account_deleted")).toHaveLength(1);
  });

  it("needs a recent sign-in (403) and a token (401)", async () => {
    let t = Date.now();
    const client = testClient({ now: () => new Date(t) });
    const user = await createVerifiedUser(client);
    expect((await client.call("DELETE", "/auth/me")).status).toBe(401);
    t += 11 * 60_000;
    const res = await deleteMe(client, user.tokens.access_token);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("reauthentication_required");
    expect(await withDb((db) => db.users.findById(user.id))).not.toBeNull();
  });
});
